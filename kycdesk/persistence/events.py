"""Append-only audit trail (case_events)."""

from __future__ import annotations

import json
from typing import Any

from kycdesk.core.clock import now_text
from kycdesk.persistence.db import Connection


def append_event(conn: Connection, case_id: str | None, kind: str,
                 detail: dict[str, Any] | None = None) -> int:
    """Record one event. Call inside the transaction of the change it describes."""
    return conn.insert(
        "INSERT INTO case_events(case_id, at, kind, detail_json) VALUES (?, ?, ?, ?)",
        (case_id, now_text(), kind, json.dumps(detail or {}, sort_keys=True)),
    )


def list_events(conn: Connection, case_id: str, limit: int = 500) -> list[tuple[str, str, Any]]:
    rows = conn.query_all(
        "SELECT at, kind, detail_json FROM case_events WHERE case_id = ? ORDER BY id LIMIT ?",
        (case_id, limit),
    )
    return [(at, kind, json.loads(detail or "{}")) for at, kind, detail in rows]
