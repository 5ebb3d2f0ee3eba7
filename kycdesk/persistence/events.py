"""Append-only audit trail (case_events). An event's detail is sealed (it may name the
applicant, a file, a reason); its kind and time stay in clear for the audit's order."""

from __future__ import annotations

import json
from typing import Any

from kycdesk.core.clock import now_text
from kycdesk.persistence import sealed
from kycdesk.persistence.db import Connection

DETAIL = sealed.field_name("case_events")


def append_event(conn: Connection, case_id: str | None, kind: str,
                 detail: dict[str, Any] | None = None) -> int:
    """Record one event. Call inside the transaction of the change it describes."""
    return conn.insert(
        "INSERT INTO case_events(case_id, at, kind, detail_sealed) VALUES (?, ?, ?, ?)",
        (case_id, now_text(), kind,
         sealed.seal(conn, detail or {}, case_id=case_id, field=DETAIL)),
    )


def event_detail(conn: Connection, case_id: str | None, detail_sealed: bytes | None,
                 detail_json: str | None) -> dict[str, Any]:
    """One event's detail (sealed, or a row still in clear)."""
    detail = sealed.read(conn, detail_sealed, case_id=case_id, field=DETAIL,
                         clear=lambda: json.loads(detail_json or "{}"))
    return detail if isinstance(detail, dict) else {}


def list_events(conn: Connection, case_id: str, limit: int = 500) -> list[tuple[str, str, Any]]:
    rows = conn.query_all(
        "SELECT at, kind, detail_sealed, detail_json FROM case_events WHERE case_id = ? "
        "ORDER BY id LIMIT ?", (case_id, limit),
    )
    return [(at, kind, event_detail(conn, case_id, detail, text))
            for at, kind, detail, text in rows]
