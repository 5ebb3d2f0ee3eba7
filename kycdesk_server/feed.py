"""The per-device feed and held set (schema v6; docs/sync-protocol.md "Pull").

Every office act that concerns a device (an assignment, a return, a decision, a
correction, a handover, a withdrawal) appends a row to that device's feed **inside the
act's own transaction** (`append`); a change of the server's authority over a case moves
it in or out of the device's held set and its digest in the same transaction.

Ordering: every append updates the device's `device_held` row first (its `feed_seq`
counter), which locks that row until commit on PostgreSQL (SQLite has one writer), so a
device's feed rows commit in seq order. A reader that sees `feed_seq = N` sees every row
up to N; a pull never skips a row that commits late.

The digest is the XOR of SHA-256(case id) over the held set: order-free and updatable one
case at a time. The digest as of a token (what the device holds after applying up to it)
is the current one with the later rows' `held_delta`s undone (`held_as_of`): O(changes
since the token), never O(cases held).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kycdesk.core.protocol import EMPTY_HELD_DIGEST
from kycdesk_server.database import Database


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def case_digest(case_id: str) -> int:
    return int.from_bytes(hashlib.sha256(case_id.encode()).digest(), "big")


def toggled(digest_hex: str, case_id: str) -> str:
    """The digest with `case_id` added (or, XOR being its own inverse, removed)."""
    return f"{int(digest_hex, 16) ^ case_digest(case_id):064x}"


def digest_of(case_ids: list[str]) -> str:
    value = 0
    for case_id in case_ids:
        value ^= case_digest(case_id)
    return f"{value:064x}"


@dataclass(frozen=True)
class Held:
    digest: str
    count: int
    feed_seq: int       # the newest row of the device's feed (0: none yet)
    pulled_seq: int     # the newest row the device has said it applied


@dataclass(frozen=True)
class FeedRow:
    seq: int
    kind: str
    case_id: str | None
    payload: dict[str, Any]
    created_at: str


def _ensure(db: Database, device_id: str) -> None:
    db.execute("INSERT INTO device_held(device_id, held_digest, held_count, feed_seq) "
               "VALUES (?, ?, 0, 0) ON CONFLICT DO NOTHING", (device_id, EMPTY_HELD_DIGEST))


def _lock(db: Database, device_id: str, *, advance: int) -> tuple[int, str, int]:
    """Take the device's row (an UPDATE: locked until commit) and move its counter on by
    `advance`; returns (feed_seq after, digest, count)."""
    _ensure(db, device_id)
    row = db.execute("UPDATE device_held SET feed_seq = feed_seq + ? WHERE device_id = ? "
                     "RETURNING feed_seq, held_digest, held_count",
                     (advance, device_id)).fetchone()
    return int(row[0]), str(row[1]), int(row[2])


def lock(db: Database, device_ids: list[str]) -> None:
    """Take several devices' rows at the start of an act that appends to more than one
    feed (a handover: the old and the new tablet), always in id order, so two such acts
    crossing (A→B and B→A) wait for each other instead of deadlocking on PostgreSQL."""
    for device_id in sorted(set(device_ids)):
        _lock(db, device_id, advance=0)


def _move_held(db: Database, device_id: str, case_id: str, delta: int) -> int:
    """Add (+1) or remove (-1) the case from the device's held set; the delta that took
    effect (0: it was already so)."""
    if delta > 0:
        done = db.execute("INSERT INTO device_cases(device_id, case_id, since) "
                          "VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                          (device_id, case_id, now())).rowcount
        return 1 if done == 1 else 0
    if delta < 0:
        done = db.execute("DELETE FROM device_cases WHERE device_id = ? AND case_id = ?",
                          (device_id, case_id)).rowcount
        return -1 if done == 1 else 0
    return 0


def append(db: Database, device_id: str, kind: str, case_id: str | None,
           payload: dict[str, Any], *, held_delta: int = 0) -> int:
    """One change for the device (in the caller's transaction); returns its seq.
    `held_delta` +1 / -1: the case enters / leaves the device's held set with it."""
    with db.transaction():
        seq, digest, count = _lock(db, device_id, advance=1)
        effective = _move_held(db, device_id, case_id, held_delta) if case_id else 0
        if effective:
            db.execute("UPDATE device_held SET held_digest = ?, held_count = ? "
                       "WHERE device_id = ?",
                       (toggled(digest, str(case_id)), count + effective, device_id))
        db.execute("INSERT INTO device_feed(device_id, seq, kind, case_id, payload_json, "
                   "held_delta, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (device_id, seq, kind, case_id,
                    json.dumps(payload, sort_keys=True, separators=(",", ":")),
                    effective, now()))
    return seq


def hold(db: Database, device_id: str, case_id: str, delta: int) -> bool:
    """A change of the held set the device made itself (its first accepted submission of
    a case: +1; a release after a handover: -1): no feed row, the device updates its own
    digest when it stores the answer. True if the set changed."""
    with db.transaction():
        _, digest, count = _lock(db, device_id, advance=0)
        effective = _move_held(db, device_id, case_id, delta)
        if effective:
            db.execute("UPDATE device_held SET held_digest = ?, held_count = ? "
                       "WHERE device_id = ?",
                       (toggled(digest, case_id), count + effective, device_id))
    return effective != 0


def holds(db: Database, device_id: str, case_id: str) -> bool:
    return db.execute("SELECT 1 FROM device_cases WHERE device_id = ? AND case_id = ?",
                      (device_id, case_id)).fetchone() is not None


def held(db: Database, device_id: str) -> Held:
    row = db.execute("SELECT held_digest, held_count, feed_seq, pulled_seq "
                     "FROM device_held WHERE device_id = ?", (device_id,)).fetchone()
    if row is None:
        return Held(EMPTY_HELD_DIGEST, 0, 0, 0)
    return Held(str(row[0]), int(row[1]), int(row[2]), int(row[3]))


def held_as_of(db: Database, device_id: str, current: Held, seq: int) -> tuple[str, int]:
    """What the device holds once it has applied its feed up to `seq`: the current set
    with the authority changes of rows (seq, current.feed_seq] undone."""
    value, count = int(current.digest, 16), current.count
    for case_id, delta in db.execute(
            "SELECT case_id, held_delta FROM device_feed WHERE device_id = ? AND seq > ? "
            "AND seq <= ? AND held_delta <> 0", (device_id, seq, current.feed_seq)
    ).fetchall():
        value ^= case_digest(str(case_id))
        count -= int(delta)
    return f"{value:064x}", count


def rows_after(db: Database, device_id: str, seq: int, upto: int, limit: int
               ) -> list[FeedRow]:
    """The device's changes after `seq` (up to `upto`), oldest first, through the key."""
    rows = db.execute(
        "SELECT seq, kind, case_id, payload_json, created_at FROM device_feed "
        "WHERE device_id = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
        (device_id, seq, upto, limit)).fetchall()
    return [FeedRow(int(r[0]), str(r[1]), r[2], json.loads(r[3]), str(r[4])) for r in rows]


def record_pulled(db: Database, device_id: str, seq: int) -> None:
    """The device applied its feed up to `seq` (it sent that token): the office shows an
    assignment as "on the tablet" from then on. Written only when it moves on."""
    db.execute("UPDATE device_held SET pulled_seq = ?, pulled_at = ? "
               "WHERE device_id = ? AND pulled_seq < ?", (seq, now(), device_id, seq))


def holders(db: Database, case_id: str) -> list[str]:
    """The devices holding the case (one, except while a handover is under way)."""
    return [str(r[0]) for r in db.execute(
        "SELECT device_id FROM device_cases WHERE case_id = ? ORDER BY device_id",
        (case_id,)).fetchall()]


def backfill_held(db: Database) -> None:
    """Migration 6: each device holds the cases it owns and has submitted."""
    by_device: dict[str, list[str]] = {}
    for case_id, device_id in db.execute(
            "SELECT o.case_id, o.device_id FROM case_owners o "
            "JOIN submissions s ON s.case_id = o.case_id ORDER BY o.case_id").fetchall():
        by_device.setdefault(str(device_id), []).append(str(case_id))
    stamp = now()
    for (device_id,) in db.execute("SELECT id FROM devices").fetchall():
        by_device.setdefault(str(device_id), [])
    for device_id, cases in by_device.items():
        for case_id in cases:
            db.execute("INSERT INTO device_cases(device_id, case_id, since) "
                       "VALUES (?, ?, ?)", (device_id, case_id, stamp))
        db.execute("INSERT INTO device_held(device_id, held_digest, held_count, feed_seq) "
                   "VALUES (?, ?, ?, 0)", (device_id, digest_of(cases), len(cases)))
