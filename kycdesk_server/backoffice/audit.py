"""The back office's append-only audit: every sign-in, failure, lockout, sign-out,
account change and review decision, as one row (who, what, when, from where, the object
and revision it applies to, a JSON detail). The database refuses UPDATE and DELETE on it
(triggers, schema version 4). Details never carry applicant data: ids, codes, counts."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kycdesk_server.backoffice.identity import Reviewer
from kycdesk_server.database import Database
from kycdesk_server.storage import now

JsonValue = str | int | float | bool | None | list[Any] | dict[str, Any]


@dataclass(frozen=True)
class AuditEntry:
    id: str
    at: str
    actor_id: str | None
    actor_name: str | None
    action: str
    address: str
    object_type: str | None
    object_id: str | None
    revision: int | None
    detail: dict[str, Any]


class AuditLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, action: str, *, actor: Reviewer | None, address: str,
               object_type: str | None = None, object_id: str | None = None,
               revision: int | None = None,
               detail: Mapping[str, JsonValue] | None = None) -> str:
        """Append one entry (inside the caller's transaction, if any); returns its id.
        `action` is a dotted name: `signin.ok`, `account.disabled`, `case.approved`…"""
        # Time-ordered ids: the audit reads in order without an engine-specific sequence.
        entry_id = f"{time.time_ns():020d}-{secrets.token_hex(4)}"
        self.db.execute(
            "INSERT INTO office_audit(id, at, actor_id, actor_name, action, address, "
            "object_type, object_id, revision, detail_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
            "?, ?)",
            (entry_id, now(), actor.id if actor else None, actor.username if actor else None,
             action, address, object_type, object_id, revision,
             json.dumps(dict(detail or {}), sort_keys=True, separators=(",", ":"))))
        return entry_id

    _COLUMNS = ("id, at, actor_id, actor_name, action, address, object_type, object_id, "
                "revision, detail_json")

    def entries(self, *, object_type: str | None = None, object_id: str | None = None,
                limit: int = 200) -> list[AuditEntry]:
        """The newest entries first (for one object when given)."""
        where, params = "", []
        if object_type is not None:
            where, params = " WHERE object_type = ? AND object_id = ?", [object_type,
                                                                          object_id]
        return self._read(f"{where} ORDER BY id DESC LIMIT ?", (*params, int(limit)))

    def after(self, entry_id: str = "", limit: int = 1000) -> list[AuditEntry]:
        """The entries after `entry_id`, oldest first (an export resumes where it ended)."""
        return self._read(" WHERE id > ? ORDER BY id LIMIT ?", (entry_id, int(limit)))

    def _read(self, tail: str, params: tuple[object, ...]) -> list[AuditEntry]:
        rows = self.db.execute(f"SELECT {self._COLUMNS} FROM office_audit{tail}",
                               params).fetchall()
        return [AuditEntry(id=row[0], at=row[1], actor_id=row[2], actor_name=row[3],
                           action=row[4], address=row[5], object_type=row[6],
                           object_id=row[7], revision=row[8], detail=json.loads(row[9]))
                for row in rows]
