"""Verifiers on the device: who signs in, and the keys their store is opened with
(issue 18; docs/security.md)."""
