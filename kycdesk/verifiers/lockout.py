"""Wrong PINs: the growing delay, and what happens at the last allowed failure.

Delay after the n-th consecutive failure (n ≥ 3): 5 s × 2^(n−3), at most 15 minutes —
5 s, 10 s, 20 s, 40 s, 80 s, 160 s, 320 s, 640 s, then 900 s. With the default of 10
failures a person at the tablet gets 10 guesses in about 21 minutes, then the verifier
is wiped (nothing unsynced) or locked until a supervisor's code.

Whether the verifier has unsynced work is read from the store's clear `cases.status`
column (statuses are left in clear on purpose: docs/security.md, *Left in clear*), so
it needs no key: the verifier is not signed in when this is decided.
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import datetime, timedelta

from kycdesk.paths import DataPaths

log = logging.getLogger(__name__)

FREE_FAILURES = 2              # the first two wrong PINs cost no wait
FIRST_DELAY_S = 5.0
MAX_DELAY_S = 15 * 60.0
SYNCED = "SYNCED"              # core.states.CaseStatus.SYNCED, as stored


def delay_after(failures: int) -> timedelta:
    if failures <= FREE_FAILURES:
        return timedelta(0)
    seconds = FIRST_DELAY_S * 2 ** min(failures - FREE_FAILURES - 1, 20)
    return timedelta(seconds=min(seconds, MAX_DELAY_S))


def retry_at(failures: int, last_failure: datetime | None) -> datetime | None:
    """When the next try is accepted; None when it is accepted at once."""
    if last_failure is None or failures <= FREE_FAILURES:
        return None
    return last_failure + delay_after(failures)


def unsynced_cases(store: DataPaths) -> int | None:
    """Cases not yet on the server (drafts, waiting, failed), read without a key from a
    read-only connection (no write, no recovery, no WAL checkpoint). None when the store
    cannot be read: the caller then keeps the data (locks instead of wiping)."""
    if not store.database.exists():
        return 0
    uri = f"{store.database.as_uri()}?mode=ro"
    try:
        db = sqlite3.connect(uri, uri=True, timeout=5.0)
        try:
            # IS NOT: a case without a status (a damaged row) counts as unsent, not synced.
            row = db.execute("SELECT COUNT(*) FROM cases WHERE status IS NOT ?",
                             (SYNCED,)).fetchone()
        finally:
            db.close()
    except sqlite3.Error as exc:
        log.warning("unsynced cases could not be counted: %s", exc)
        return None
    return int(row[0])
