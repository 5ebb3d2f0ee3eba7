"""Reference sync server for kycdesk: tests, demos, and the model for the production
back end. Implements docs/sync-protocol.md with its idempotency and hash
rules, and can inject faults on demand. Not bundled into the app."""
