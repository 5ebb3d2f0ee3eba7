"""A stand-in verifier registry for the sign-in UI's tests (the real one, with argon2id and
files, is kycdesk/verifiers/registry.py and has its own tests). It keeps the contract's
behaviour the screens draw: the growing delay after the 3rd wrong PIN, the lock at 10,
the lease, supervisor codes, and a gate a test can hold shut to prove the GUI thread
never waits for a registry call."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kycdesk.paths import DataPaths
from kycdesk.verifiers.errors import (
    LeaseExpiredError,
    PinRuleError,
    TooSoonError,
    VerifierLockedError,
    WrongPinAttemptError,
)
from kycdesk.verifiers.pin_rules import PinPolicy
from kycdesk.verifiers.session import Session
from tests.vaults import make_vault

GOOD_CODE = "ABCD EFGH JKLM NOPQ"


@dataclass(frozen=True)
class FakeInfo:
    verifier_id: str
    name: str
    failures: int = 0
    retry_at: datetime | None = None
    locked: str | None = None
    enrolled: bool = False


@dataclass
class _Record:
    verifier_id: str
    name: str
    pin: str
    failures: int = 0
    retry_at: datetime | None = None
    locked: str | None = None
    lease_expired: bool = False


@dataclass
class FakeRegistry:
    root: Path
    max_failures: int = 10
    records: dict[str, _Record] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    checked_pins: int = 0
    # Cleared by a test to hold every call on the sign-in lane until it is set again.
    open_gate: threading.Event = field(default_factory=threading.Event)
    now: Any = None
    policy: PinPolicy = field(default_factory=PinPolicy)

    def __post_init__(self) -> None:
        self.open_gate.set()

    def _wait(self, call: str) -> None:
        self.calls.append(call)
        assert threading.current_thread() is not threading.main_thread(), \
            f"{call} ran in the GUI thread"
        self.open_gate.wait(10)

    def _now(self) -> datetime:
        return self.now() if self.now is not None else datetime.now(UTC)

    def _session(self, record: _Record) -> Session:
        paths = DataPaths(root=self.root / "verifiers" / record.verifier_id,
                          log_dir=self.root / "logs")
        # The same test key at every sign-in (as a PIN opens the same ring); no argon2.
        return Session(record.verifier_id, record.name, paths,
                       make_vault(record.verifier_id))

    # -- the registry's interface --------------------------------------------------------
    def verifiers(self) -> list[FakeInfo]:
        self._wait("verifiers")
        return [FakeInfo(r.verifier_id, r.name, r.failures, r.retry_at, r.locked)
                for r in self.records.values()]

    def add(self, name: str, pin: str) -> Session:
        self._wait("add")
        if len(pin) < 12:
            raise PinRuleError("Your passphrase needs at least 12 characters.")
        record = _Record(f"a{len(self.records) + 1}", name, pin)
        self.records[record.verifier_id] = record
        return self._session(record)

    def check_pin(self, verifier_id: str, pin: str) -> Session:
        self.checked_pins += 1
        return self.sign_in(verifier_id, pin)

    def sign_in(self, verifier_id: str, pin: str) -> Session:
        self._wait("sign_in")
        record = self.records[verifier_id]
        if record.locked:
            raise VerifierLockedError("Too many wrong PINs: ask your supervisor.")
        if record.retry_at is not None and record.retry_at > self._now():
            raise TooSoonError("Please wait before trying again.", retry_at=record.retry_at)
        record.failures += 1  # counted before the check, as the real one does
        if pin != record.pin:
            if record.failures >= self.max_failures:
                record.locked = "wrong-pin"
                raise VerifierLockedError("Too many wrong PINs: ask your supervisor.")
            if record.failures >= 3:
                record.retry_at = self._now() + timedelta(
                    seconds=min(900, 5 * 2 ** (record.failures - 3)))
            raise WrongPinAttemptError(
                "Wrong PIN.", retry_at=record.retry_at,
                remaining=self.max_failures - record.failures)
        record.failures, record.retry_at = 0, None
        session = self._session(record)
        if record.lease_expired:
            raise LeaseExpiredError("This tablet has not reached the server for 15 days.",
                                    session=session)
        return session

    def change_pin(self, session: Session, old_pin: str, new_pin: str) -> Session:
        self._wait("change_pin")
        record = self.records[session.verifier_id]
        if old_pin != record.pin:
            raise WrongPinAttemptError("Your current PIN is not right.", retry_at=None,
                                       remaining=9)
        if len(new_pin) < 12:
            raise PinRuleError("Your passphrase needs at least 12 characters.")
        record.pin = new_pin
        return self._session(record)

    def release_with_code(self, verifier_id: str, code: str) -> None:
        self._wait("release")
        if code != GOOD_CODE:
            raise PinRuleError("That code is not valid for this tablet today.")
        record = self.records[verifier_id]
        record.locked, record.failures, record.retry_at = None, 0, None

    def extend_lease_with_code(self, session: Session, code: str) -> None:
        self._wait("extend")
        if code != GOOD_CODE:
            raise PinRuleError("That code is not valid for this tablet today.")
        self.records[session.verifier_id].lease_expired = False

    # -- test set-up ---------------------------------------------------------------------
    def with_verifier(self, name: str, pin: str) -> str:
        record = _Record(f"a{len(self.records) + 1}", name, pin)
        self.records[record.verifier_id] = record
        return record.verifier_id
