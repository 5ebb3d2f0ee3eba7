"""Verifiers on the device: registry, PIN rules, sign-in, wipe, and the migration of the
clear store from before sign-in (docs/security.md)."""
