"""Back-office accounts: add, disable, reset a password, change a role, enrol TOTP, and
sign in (password + TOTP, throttled). Every change is audited through `AuditLog.record`.

- Passwords: argon2id (argon2-cffi's defaults: 64 MiB, 3 passes), rehashed on sign-in when
  the parameters change; rules in `password_problem`.
- TOTP: required for admins (an admin without it is sent to enrolment after the password),
  optional for reviewers and supervisors; a code's time step is never accepted twice.
- Sign-in failures all look the same to the person signing in (no account enumeration);
  an unknown name still costs one argon2 verification (no timing oracle either).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from functools import cache
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from kycdesk_server.backoffice import totp
from kycdesk_server.backoffice.audit import AuditLog
from kycdesk_server.backoffice.identity import ROLES, Reviewer, Role
from kycdesk_server.backoffice.sealing import Sealer
from kycdesk_server.backoffice.sessions import SessionStore
from kycdesk_server.backoffice.throttle import SigninThrottle, account_key, address_key
from kycdesk_server.database import Database
from kycdesk_server.storage import now

MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # argon2 hashes anything, but a megabyte "password" is an attack
MAX_USERNAME = 64
USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
# The most common long passwords of breach lists: refused whatever the rules say.
DENY_LIST = frozenset({
    "password1234", "123456789012", "qwertyuiopas", "passwordpassword", "111111111111",
    "iloveyou1234", "administrator", "letmein12345", "welcome12345", "changeme1234",
    "qwerty123456", "1234567890ab", "abc123456789", "password123!", "kycdesk12345",
    "correcthorsebatterystaple", "aaaaaaaaaaaa", "000000000000", "p@ssw0rd1234",
})


class AccountError(ValueError):
    """A request about accounts that cannot be done; the message says why, for a person."""


@dataclass(frozen=True)
class Account:
    id: str
    username: str
    role: Role
    created_at: str
    disabled_at: str | None
    totp_enrolled: bool

    def reviewer(self) -> Reviewer:
        return Reviewer(self.id, self.username, self.role)


@dataclass(frozen=True)
class TotpEnrolment:
    """Shown once: the secret as text and as an otpauth:// URI (for a QR code)."""

    secret_text: str
    uri: str


@dataclass(frozen=True)
class SignedIn:
    reviewer: Reviewer
    must_enrol_totp: bool


@dataclass(frozen=True)
class SignInRefused:
    reason: Literal["wrong", "locked"]
    retry_after_s: int = 0


SignInOutcome = SignedIn | SignInRefused


def username_key(username: str) -> str:
    return username.strip().casefold()


def password_problem(username: str, password: str) -> str | None:
    """Why this password may not be used, or None."""
    if len(password) < MIN_PASSWORD:
        return f"A password needs at least {MIN_PASSWORD} characters."
    if len(password) > MAX_PASSWORD:
        return f"A password may have at most {MAX_PASSWORD} characters."
    folded = password.casefold()
    if username_key(username) in folded:
        return "A password may not contain the username."
    if folded in DENY_LIST or len(set(folded)) < 4:
        return "This password is too common or too simple; choose another."
    return None


@cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    return hasher.hash(secrets.token_urlsafe(16))


class AccountService:
    def __init__(self, db: Database, sealer: Sealer, audit: AuditLog,
                 sessions: SessionStore, *, throttle: SigninThrottle | None = None,
                 hasher: PasswordHasher | None = None) -> None:
        self.db = db
        self.sealer = sealer
        self.audit = audit
        self.sessions = sessions
        self.throttle = throttle or SigninThrottle(db)
        self.hasher = hasher or PasswordHasher()  # argon2id

    # -- reading ------------------------------------------------------------------------
    _COLUMNS = "id, username, role, created_at, disabled_at, totp_confirmed_at"

    def find(self, username: str) -> Account | None:
        row = self.db.execute(f"SELECT {self._COLUMNS} FROM office_accounts WHERE "
                              "username_key = ?", (username_key(username),)).fetchone()
        return self._account(row) if row else None

    def get(self, account_id: str) -> Account | None:
        row = self.db.execute(f"SELECT {self._COLUMNS} FROM office_accounts WHERE id = ?",
                              (account_id,)).fetchone()
        return self._account(row) if row else None

    def list(self) -> list[Account]:
        rows = self.db.execute(f"SELECT {self._COLUMNS} FROM office_accounts "
                               "ORDER BY username_key").fetchall()
        return [self._account(row) for row in rows]

    @staticmethod
    def _account(row: tuple[str, str, Role, str, str | None, str | None]) -> Account:
        return Account(row[0], row[1], row[2], row[3], row[4], row[5] is not None)

    def _existing(self, username: str) -> Account:
        account = self.find(username)
        if account is None:
            raise AccountError(f"There is no account {username!r}.")
        return account

    # -- changing -----------------------------------------------------------------------
    def add(self, username: str, role: Role, password: str, *, by: Reviewer | None,
            address: str) -> Account:
        if not USERNAME.fullmatch(username):
            raise AccountError("A username has 1–64 letters, digits, '.', '_', '@' or '-', "
                               "and starts with a letter or digit.")
        if role not in ROLES:
            raise AccountError(f"A role is one of {', '.join(ROLES)}.")
        if (problem := password_problem(username, password)) is not None:
            raise AccountError(problem)
        account_id = f"acc-{secrets.token_hex(8)}"
        stamp = now()
        with self.db.transaction():
            if self.find(username) is not None:
                raise AccountError(f"An account {username!r} exists already.")
            self.db.execute(
                "INSERT INTO office_accounts(id, username, username_key, role, password_hash, "
                "created_at, password_changed_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (account_id, username, username_key(username), role,
                 self.hasher.hash(password), stamp, stamp))
            self.audit.record("account.added", actor=by, address=address,
                              object_type="account", object_id=account_id,
                              detail={"username": username, "role": role})
        return self._existing(username)

    def disable(self, username: str, *, by: Reviewer | None, address: str) -> bool:
        """Disable the account and end its sessions; False if it was already disabled."""
        account = self._existing(username)
        if account.disabled_at is not None:
            return False
        with self.db.transaction():
            self.db.execute("UPDATE office_accounts SET disabled_at = ? WHERE id = ?",
                            (now(), account.id))
            ended = self.sessions.end_all(account.id)
            self.audit.record("account.disabled", actor=by, address=address,
                              object_type="account", object_id=account.id,
                              detail={"sessions_ended": ended})
        return True

    def reset_password(self, username: str, password: str, *, by: Reviewer | None,
                       address: str) -> None:
        """A new password (the rules apply); every session of the account ends."""
        account = self._existing(username)
        if (problem := password_problem(account.username, password)) is not None:
            raise AccountError(problem)
        with self.db.transaction():
            self.db.execute("UPDATE office_accounts SET password_hash = ?, "
                            "password_changed_at = ? WHERE id = ?",
                            (self.hasher.hash(password), now(), account.id))
            ended = self.sessions.end_all(account.id)
            self.audit.record("account.password_reset", actor=by, address=address,
                              object_type="account", object_id=account.id,
                              detail={"sessions_ended": ended})

    def set_role(self, username: str, role: Role, *, by: Reviewer | None,
                 address: str) -> None:
        account = self._existing(username)
        if role not in ROLES:
            raise AccountError(f"A role is one of {', '.join(ROLES)}.")
        with self.db.transaction():
            self.db.execute("UPDATE office_accounts SET role = ? WHERE id = ?",
                            (role, account.id))
            self.sessions.end_all(account.id)  # a session's rights were its old role's
            self.audit.record("account.role_changed", actor=by, address=address,
                              object_type="account", object_id=account.id,
                              detail={"from": account.role, "to": role})

    # -- TOTP ---------------------------------------------------------------------------
    def start_totp(self, account_id: str, *, by: Reviewer | None, address: str,
                   confirmed: bool = False) -> TotpEnrolment:
        """A new secret for the account. Unconfirmed (the web enrolment, only while the
        account has no proven one), it counts only after `confirm_totp`; `confirmed` (an
        administrator at the command line hands it over, replacing any earlier one) it is
        required from the next sign-in on."""
        account = self.get(account_id)
        if account is None:
            raise AccountError("There is no such account.")
        if account.totp_enrolled and not confirmed:
            # Otherwise a visit to the enrolment page would switch a proven factor off.
            raise AccountError("Two-step sign-in is already set up for this account. To "
                               "move it to a new phone, ask an administrator for a new "
                               "secret.")
        secret = totp.new_secret()
        with self.db.transaction():
            self.db.execute("UPDATE office_accounts SET totp_secret_sealed = ?, "
                            "totp_confirmed_at = ?, totp_last_step = NULL WHERE id = ?",
                            (self.sealer.seal(secret), now() if confirmed else None,
                             account_id))
            self.audit.record("account.totp_issued" if confirmed else "account.totp_started",
                              actor=by, address=address, object_type="account",
                              object_id=account_id)
        return TotpEnrolment(totp.secret_text(secret),
                             totp.provisioning_uri(secret, account.username))

    def confirm_totp(self, account_id: str, code: str, *, address: str) -> bool:
        """The first code from the person's app proves the enrolment."""
        accepted = self._accept_code(account_id, code, pending=True)
        if accepted:
            with self.db.transaction():
                self.db.execute("UPDATE office_accounts SET totp_confirmed_at = ? "
                                "WHERE id = ?", (now(), account_id))
                account = self.get(account_id)
                self.audit.record("account.totp_confirmed",
                                  actor=account.reviewer() if account else None,
                                  address=address, object_type="account",
                                  object_id=account_id)
        return accepted

    def _accept_code(self, account_id: str, code: str, *, pending: bool) -> bool:
        confirmed = "IS NULL" if pending else "IS NOT NULL"
        row = self.db.execute("SELECT totp_secret_sealed FROM office_accounts WHERE id = ? "
                              f"AND totp_secret_sealed IS NOT NULL AND totp_confirmed_at "
                              f"{confirmed}", (account_id,)).fetchone()
        if row is None:
            return False
        step = totp.matching_step(self.sealer.open(row[0]), code)
        if step is None:
            return False
        # Claim the step atomically: the same code twice (or an older one) is refused,
        # even from two workers at once.
        return self.db.execute("UPDATE office_accounts SET totp_last_step = ? WHERE id = ? "
                               "AND (totp_last_step IS NULL OR totp_last_step < ?)",
                               (step, account_id, step)).rowcount == 1

    # -- signing in ---------------------------------------------------------------------
    def sign_in(self, username: str, password: str, code: str, *,
                address: str) -> SignInOutcome:
        # (Over-long names and passwords are nobody's: wrong, as any other; the key is cut
        # so it stays small.)
        keys = [account_key(username_key(username[:MAX_USERNAME])), address_key(address)]
        wait = self.throttle.wait_s(keys)
        if wait:
            self.audit.record("signin.refused_locked", actor=None, address=address,
                              detail={"retry_after_s": wait})
            return SignInRefused("locked", wait)
        row: tuple[str, str, str | None, str | None] | None = self.db.execute(
            "SELECT id, password_hash, disabled_at, totp_confirmed_at FROM office_accounts "
            "WHERE username_key = ?", (username_key(username),)).fetchone() \
            if len(password) <= MAX_PASSWORD and len(username) <= MAX_USERNAME else None
        reason = self._check(row, password, code)
        account = self.get(row[0]) if row else None
        if reason is None and account is not None and row is not None:
            self.throttle.cleared(keys[0])
            self._rehash_if_needed(account.id, row[1], password)
            self.audit.record("signin.ok", actor=account.reviewer(), address=address,
                              object_type="account", object_id=account.id)
            return SignedIn(account.reviewer(),
                            must_enrol_totp=account.role == "admin"
                            and not account.totp_enrolled)
        locked = self.throttle.failed([(keys[0], self.throttle.policy.account_limit),
                                       (keys[1], self.throttle.policy.address_limit)])
        # An unknown name is not written down: people type their password there.
        self.audit.record("signin.failed", actor=account.reviewer() if account else None,
                          address=address, object_type="account" if account else None,
                          object_id=account.id if account else None,
                          detail={"reason": reason})
        if locked:
            self.audit.record("signin.lockout", actor=account.reviewer() if account else None,
                              address=address, detail={"keys": len(keys)})
        return SignInRefused("wrong")

    def _check(self, row: tuple[str, str, str | None, str | None] | None, password: str,
               code: str) -> str | None:
        """None when the password (and code, if enrolled) is right; else why not."""
        if row is None:
            # The same cost as a real account's check: no timing oracle for names.
            self._verify(_dummy_hash(self.hasher), password[:MAX_PASSWORD])
            return "unknown account"
        account_id, password_hash, disabled_at, totp_confirmed_at = row
        if not self._verify(password_hash, password):
            return "password"
        if disabled_at is not None:
            return "disabled"
        if totp_confirmed_at is not None and not self._accept_code(account_id, code,
                                                                   pending=False):
            return "code"
        return None

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def _rehash_if_needed(self, account_id: str, password_hash: str, password: str) -> None:
        if self.hasher.check_needs_rehash(password_hash):
            self.db.execute("UPDATE office_accounts SET password_hash = ? WHERE id = ?",
                            (self.hasher.hash(password), account_id))
