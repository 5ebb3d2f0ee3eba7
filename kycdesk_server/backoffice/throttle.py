"""Sign-in throttling per account name and per address, in the database so every worker
(and every host on one PostgreSQL) counts the same failures.

Past `limit` failures within the window a key is locked, for a delay that doubles with each
further failure (30 s, 1 min, 2 min … capped at 15 min). While locked, attempts are refused
without checking the password at all (no oracle) and do not extend the lock. A success
clears the account's key, never the address's (one valid account must not reset an
address that is guessing others')."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from kycdesk_server.backoffice.times import iso, parse
from kycdesk_server.database import Database


@dataclass(frozen=True)
class ThrottlePolicy:
    account_limit: int = 5
    address_limit: int = 20
    window: timedelta = timedelta(minutes=15)
    first_lock: timedelta = timedelta(seconds=30)
    longest_lock: timedelta = timedelta(minutes=15)



def account_key(username_key: str) -> str:
    return f"user:{username_key}"


def address_key(address: str) -> str:
    """An IPv6 client is counted by its /64 (one host gets a whole /64 to pick from)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return f"address:{address}"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return f"address:{ip.ipv4_mapped}"
        return f"address:{ipaddress.ip_network(f'{ip}/64', strict=False)}"
    return f"address:{ip}"


class SigninThrottle:
    def __init__(self, db: Database, policy: ThrottlePolicy | None = None) -> None:
        self.db = db
        self.policy = policy or ThrottlePolicy()

    def wait_s(self, keys: list[str], at: datetime | None = None) -> int:
        """Seconds until every key may try again (0: now)."""
        moment = at or datetime.now(UTC)
        marks = ",".join("?" * len(keys))
        rows = self.db.execute("SELECT locked_until FROM office_signin_throttle WHERE key IN "
                               f"({marks}) AND locked_until IS NOT NULL", keys).fetchall()
        waits = [(parse(row[0]) - moment).total_seconds() for row in rows]
        return max([0, *(int(w) + 1 for w in waits if w > 0)])

    def failed(self, keys: list[tuple[str, int]], at: datetime | None = None) -> bool:
        """Count a failure for each (key, limit); True when one of them is now locked."""
        moment = at or datetime.now(UTC)
        locked = False
        with self.db.transaction():
            # Series that are over (past the window, not locked) go: guessed names leave
            # no rows behind.
            stale = iso(moment - self.policy.window)
            self.db.execute("DELETE FROM office_signin_throttle WHERE first_failure_at < ? "
                            "AND (locked_until IS NULL OR locked_until < ?)",
                            (stale, iso(moment)))
            for key, limit in keys:
                # One atomic upsert: concurrent failures on PostgreSQL never lose a count.
                self.db.execute(
                    "INSERT INTO office_signin_throttle(key, failures, first_failure_at) "
                    "VALUES (?, 1, ?) ON CONFLICT(key) DO UPDATE SET "
                    "failures = office_signin_throttle.failures + 1", (key, iso(moment)))
                failures, first, until = self.db.execute(
                    "SELECT failures, first_failure_at, locked_until FROM "
                    "office_signin_throttle WHERE key = ?", (key,)).fetchone()
                lock_over = until is None or parse(until) <= moment
                if lock_over and moment - parse(first) > self.policy.window:
                    failures, first = 1, iso(moment)  # an old series: start again
                    self.db.execute("UPDATE office_signin_throttle SET failures = 1, "
                                    "first_failure_at = ?, locked_until = NULL WHERE key = ?",
                                    (first, key))
                if failures >= limit:
                    delay = min(self.policy.first_lock * 2 ** (failures - limit),
                                self.policy.longest_lock)
                    self.db.execute("UPDATE office_signin_throttle SET locked_until = ? "
                                    "WHERE key = ?", (iso(moment + delay), key))
                    locked = True
        return locked

    def cleared(self, key: str) -> None:
        self.db.execute("DELETE FROM office_signin_throttle WHERE key = ?", (key,))
