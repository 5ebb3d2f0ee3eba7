"""Sync protocol, client, engine and worker (see ../shared/design/sync-protocol.md)."""
