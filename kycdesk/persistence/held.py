"""The cases this device holds with the server's authority, and their digest.

Held: delivered by a pull (assigned, handover_in, case_state) or a submission of its own
the server accepted; minus cases released or withdrawn. The digest (XOR of SHA-256 of
each case id, `core.hashing`) and the count live in `pull_position` and change in the
transaction that changes the set, one case at a time — never a scan of the cases."""

from __future__ import annotations

from kycdesk.core.hashing import held_digest, toggle_held
from kycdesk.persistence.db import Connection


def position(conn: Connection) -> tuple[str | None, str, int]:
    """(token, held_digest, held_count) as the next pull sends them."""
    row = conn.query_one("SELECT token, held_digest, held_count FROM pull_position "
                         "WHERE id = 1")
    assert row is not None, "pull_position has its one row from migration 8"
    return (None if row[0] is None else str(row[0])), str(row[1]), int(row[2])


def is_held(conn: Connection, case_id: str) -> bool:
    return bool(conn.scalar("SELECT EXISTS (SELECT 1 FROM held_cases WHERE case_id = ?)",
                            (case_id,)))


def hold(conn: Connection, case_id: str) -> bool:
    """Add a case to the held set (no-op if held); True if it was added."""
    if conn.execute("INSERT OR IGNORE INTO held_cases(case_id) VALUES (?)", (case_id,)) != 1:
        return False
    _toggle(conn, case_id, +1)
    return True


def let_go(conn: Connection, case_id: str) -> bool:
    """Remove a case from the held set (no-op if not held); True if it was removed."""
    if conn.execute("DELETE FROM held_cases WHERE case_id = ?", (case_id,)) != 1:
        return False
    _toggle(conn, case_id, -1)
    return True


def _toggle(conn: Connection, case_id: str, delta: int) -> None:
    _, digest, count = position(conn)
    conn.execute("UPDATE pull_position SET held_digest = ?, held_count = ? WHERE id = 1",
                 (toggle_held(digest, case_id), count + delta))


def recompute(conn: Connection) -> tuple[str, int]:
    """The digest from the whole set (after a resync's reconciliation)."""
    ids = [str(r[0]) for r in conn.query_all("SELECT case_id FROM held_cases")]
    digest = held_digest(ids)
    conn.execute("UPDATE pull_position SET held_digest = ?, held_count = ? WHERE id = 1",
                 (digest, len(ids)))
    return digest, len(ids)
