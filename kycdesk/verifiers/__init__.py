"""Verifiers on the device (issue 18): registry, PIN rules, sign-in, wipe, migration."""
