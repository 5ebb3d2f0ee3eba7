"""Back-office sessions: a random 256-bit token in the browser's cookie, only its SHA-256
in the database (a dump gives no live session away). A session ends at its idle expiry
(default 30 min without a request), at its absolute expiry (12 h after sign-in), at
sign-out, or when its account is disabled or its password reset. Signing in always makes
a new token (the one the browser had, if any, dies): no session fixation.

A session in stage `enrol_totp` (an admin signed in with the password but without a
confirmed second factor) opens the enrolment page and nothing else."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from kycdesk_server.backoffice.identity import ROLES, Reviewer, Role
from kycdesk_server.backoffice.times import iso, parse
from kycdesk_server.database import Database

Stage = Literal["signed_in", "enrol_totp"]
TOUCH_EVERY = timedelta(seconds=30)  # last-seen writes at most this often per session



def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=12)


@dataclass(frozen=True)
class Session:
    token_sha256: str
    reviewer: Reviewer
    stage: Stage
    csrf_secret: str
    address: str


class SessionStore:
    def __init__(self, db: Database, policy: SessionPolicy | None = None) -> None:
        self.db = db
        self.policy = policy or SessionPolicy()

    def start(self, account_id: str, stage: Stage, address: str,
              replacing: str | None = None) -> str:
        """A new session; returns its token (for the cookie). `replacing`: the token the
        browser sent, ended here (rotation at sign-in)."""
        token = secrets.token_urlsafe(32)
        moment = datetime.now(UTC)
        with self.db.transaction():
            if replacing:
                self.end(replacing)
            self.purge_expired(moment)  # sign-ins are rare: the table stays small
            self.db.execute(
                "INSERT INTO office_sessions(token_sha256, account_id, stage, created_at, "
                "last_seen_at, idle_expires_at, absolute_expires_at, address, csrf_secret) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (token_hash(token), account_id, stage, iso(moment), iso(moment),
                 iso(moment + self.policy.idle), iso(moment + self.policy.absolute),
                 address, secrets.token_urlsafe(32)))
        return token

    def resume(self, token: str, at: datetime | None = None) -> Session | None:
        """The live session of this token (its idle expiry pushed on), or None."""
        moment = at or datetime.now(UTC)
        row = self.db.execute(
            "SELECT s.token_sha256, s.stage, s.csrf_secret, s.address, s.last_seen_at, "
            "s.idle_expires_at, s.absolute_expires_at, a.id, a.username, a.role, "
            "a.disabled_at FROM office_sessions s JOIN office_accounts a "
            "ON a.id = s.account_id WHERE s.token_sha256 = ?", (token_hash(token),)).fetchone()
        if row is None:
            return None
        (digest, stage, csrf, address, seen, idle_until, absolute_until, account_id,
         username, role, disabled_at) = row
        if disabled_at is not None or moment >= parse(idle_until) \
                or moment >= parse(absolute_until) or role not in ROLES:
            self.db.execute("DELETE FROM office_sessions WHERE token_sha256 = ?", (digest,))
            return None
        if moment - parse(seen) >= TOUCH_EVERY:
            self.db.execute("UPDATE office_sessions SET last_seen_at = ?, idle_expires_at = ? "
                            "WHERE token_sha256 = ?",
                            (iso(moment), iso(min(moment + self.policy.idle,
                                                    parse(absolute_until))), digest))
        checked_role: Role = role
        return Session(digest, Reviewer(account_id, username, checked_role), stage, csrf,
                       address)

    def end(self, token: str) -> None:
        self.db.execute("DELETE FROM office_sessions WHERE token_sha256 = ?",
                        (token_hash(token),))

    def end_all(self, account_id: str) -> int:
        return self.db.execute("DELETE FROM office_sessions WHERE account_id = ?",
                               (account_id,)).rowcount

    def purge_expired(self, at: datetime | None = None) -> int:
        stamp = iso(at or datetime.now(UTC))
        return self.db.execute("DELETE FROM office_sessions WHERE idle_expires_at <= ? OR "
                               "absolute_expires_at <= ?", (stamp, stamp)).rowcount
