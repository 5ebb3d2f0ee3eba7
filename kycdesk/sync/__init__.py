"""HTTP client, sync engine, backoff, QThread worker and headless sync (contract:
docs/sync-protocol.md; the protocol models are in kycdesk.core.protocol)."""
