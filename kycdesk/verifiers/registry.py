"""The tablet's verifiers: who may sign in, with which key ring, and their counters.

One JSON file at the data root (`TabletPaths.registry_file`), replaced whole and durably
at every change (temp name, fsync, rename, fsync folder) under a cross-process lock.
It holds no secret in clear: names and ids (shown on the sign-in screen), each
verifier's key ring (data keys wrapped by the PIN key and the organisation's recovery
key), the checks of their last PINs, the sync credential sealed under their own data
key, and the office secret in clear — it must work before sign-in (a supervisor's code
releases a lockout) and opens no data (docs/security.md, *Verifiers*).

Wrong PINs: the failure is counted and made durable BEFORE the PIN is checked, so a
process killed during the check (argon2id takes ~0.15 s) has spent the try; a right PIN
resets the count. Delay and lockout: `lockout`. Wipe order: `wipe`.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import date, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from kycdesk.core import office_codes
from kycdesk.core.clock import format_instant, parse_instant_or_none
from kycdesk.core.clock import now as clock_now
from kycdesk.core.errors import StoreError
from kycdesk.paths import TabletPaths, ensure_private_dir
from kycdesk.persistence.files import replace_durably
from kycdesk.security.errors import WrongPinError
from kycdesk.security.keys import (
    DEFAULT_PIN_PARAMS,
    Argon2Params,
    DataKey,
    UnlockedKeys,
    VerifierKeyring,
    recover_with_org_key,
    rewrap_for_org_key,
    set_pin,
    unlock,
)
from kycdesk.security.vault import DEVICE_SCOPE, Vault
from kycdesk.verifiers import lockout, pin_history, wipe
from kycdesk.verifiers.errors import (
    LeaseExpiredError,
    NotEnrolledError,
    PinRuleError,
    TooSoonError,
    UnknownVerifierError,
    VerifierLockedError,
    VerifierWipedError,
    WrongCodeError,
    WrongPinAttemptError,
)
from kycdesk.verifiers.pin_rules import PIN_HISTORY, PinPolicy, check_new_pin
from kycdesk.verifiers.registry_lock import registry_locked
from kycdesk.verifiers.session import Session

log = logging.getLogger(__name__)

REGISTRY_FORMAT = 1
NAME_MAX = 60
LOCKED_WRONG_PIN = "wrong-pin"
LOCKED_LEASE = "lease"
CREDENTIAL_FIELD = "credential"


@dataclass(frozen=True)
class VerifierInfo:
    """What the sign-in screen may show about a verifier (all of it clear on disk)."""

    verifier_id: str
    name: str
    failures: int
    retry_at: datetime | None
    locked: str | None        # None | "wrong-pin" | "lease"
    enrolled: bool


@dataclass
class _Record:
    """One verifier in the registry file (see the module docstring for what is secret)."""

    verifier_id: str
    name: str
    created_at: str
    ring: str                                   # VerifierKeyring.to_json()
    failures: int = 0
    last_failure_at: str | None = None
    locked: str | None = None                   # "wrong-pin" until released
    pin_history: list[dict[str, Any]] = field(default_factory=list)  # older PINs' checks
    credential: str | None = None               # base64 of the vault-sealed token
    device_id: str | None = None                # the server's id of this verifier's store
    office_secret: str | None = None            # hex; see the module docstring
    org_recovery_key: str | None = None         # base64 X25519 public key
    lease_expires_at: str | None = None
    lease_proof: str | None = None
    last_seen_at: str | None = None             # latest sign-in time: a clock set back
                                                # does not bring an ended lease back

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> _Record:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class _File:
    policy: PinPolicy
    verifiers: dict[str, _Record]

    def to_bytes(self) -> bytes:
        data = {"format": REGISTRY_FORMAT, "policy": self.policy.to_json(),
                "verifiers": [asdict(r) for r in self.verifiers.values()]}
        return json.dumps(data, indent=1, ensure_ascii=False).encode("utf-8")

    @classmethod
    def from_bytes(cls, raw: bytes) -> _File:
        data = json.loads(raw.decode("utf-8"))
        if data.get("format") != REGISTRY_FORMAT:
            raise ValueError("written by another kycdesk version")
        records = [_Record.from_json(r) for r in data["verifiers"]]
        return cls(PinPolicy.from_json(data.get("policy")),
                   {r.verifier_id: r for r in records})


class RegistryDamagedError(StoreError):
    """The registry file cannot be read: nobody can sign in until it is restored."""


class Registry:
    """The verifiers of one tablet (see the module docstring). Every method reads the
    file afresh, so the app and a command line on the same tablet see each other's
    changes; each change is one locked read-change-write."""

    def __init__(self, tablet: TabletPaths, tablet_id: str, *,
                 now: Callable[[], datetime] = clock_now,
                 pin_params: Argon2Params = DEFAULT_PIN_PARAMS) -> None:
        self.tablet = tablet
        self.tablet_id = tablet_id
        self._now = now
        self._pin_params = pin_params

    @classmethod
    def open(cls, tablet: TabletPaths, *, now: Callable[[], datetime] = clock_now,
             pin_params: Argon2Params = DEFAULT_PIN_PARAMS) -> Registry:
        """Creates the tablet id at first start, and finishes a wipe a kill interrupted."""
        ensure_private_dir(tablet.root)
        with registry_locked(tablet.registry_lock):
            tablet_id = _tablet_id(tablet)
        registry = cls(tablet, tablet_id, now=now, pin_params=pin_params)
        registry._finish_wipe()
        return registry

    # --- reading and writing the file -------------------------------------------------

    def _read(self) -> _File:
        try:
            raw = self.tablet.registry_file.read_bytes()
        except FileNotFoundError:
            return _File(PinPolicy(), {})
        try:
            return _File.from_bytes(raw)
        except (ValueError, KeyError, TypeError) as exc:
            raise RegistryDamagedError(
                f"The list of verifiers on this tablet ({self.tablet.registry_file}) is "
                "damaged, so nobody can sign in. Restore it from a backup, or ask the "
                "office to recover the data with the organisation's key.") from exc

    @contextmanager
    def _changing(self) -> Iterator[_File]:
        """Read, let the caller change, write durably — all under the lock. Nothing is
        written if the caller raises."""
        with registry_locked(self.tablet.registry_lock):
            current = self._read()
            yield current
            replace_durably(self.tablet.registry_file, current.to_bytes())

    def _record(self, verifier_id: str, data: _File | None = None) -> _Record:
        record = (data or self._read()).verifiers.get(verifier_id)
        if record is None:
            raise UnknownVerifierError("This verifier is not on this tablet any more.")
        return record

    # --- what the sign-in screen shows --------------------------------------------------

    @property
    def policy(self) -> PinPolicy:
        return self._read().policy

    def set_policy(self, policy: PinPolicy) -> None:
        """A lower limit of wrong PINs leaves everyone at least one more try: counts above
        it would otherwise read as a lockout a kill interrupted (and wipe or lock at the
        next sign-in, even with the right PIN)."""
        with self._changing() as data:
            data.policy = policy
            for record in data.verifiers.values():
                if record.locked is None:
                    record.failures = min(record.failures, policy.max_failures - 1)

    def verifiers(self) -> list[VerifierInfo]:
        now = self._now()
        return sorted((self._info(r, now) for r in self._read().verifiers.values()),
                      key=lambda info: info.name.casefold())

    def find(self, name: str) -> VerifierInfo | None:
        """The verifier called `name` (case and spacing do not matter)."""
        wanted = _name_key(name)
        return next((v for v in self.verifiers() if _name_key(v.name) == wanted), None)

    def _info(self, record: _Record, now: datetime) -> VerifierInfo:
        locked = record.locked
        if locked is None and _lease_expired(record, now):
            locked = LOCKED_LEASE
        last = parse_instant_or_none(record.last_failure_at)
        return VerifierInfo(record.verifier_id, record.name, record.failures,
                            lockout.retry_at(record.failures, last), locked,
                            record.device_id is not None)

    # --- a new verifier, sign-in, PIN change ---------------------------------------------

    def add(self, name: str, pin: str) -> Session:
        """A new verifier with their own empty store and keys. `PinRuleError` says what to
        change in the name or the PIN. Costs one argon2id (~0.15 s)."""
        shown = _clean_name(name)
        data = self._read()
        if any(_name_key(r.name) == _name_key(shown) for r in data.verifiers.values()):
            raise PinRuleError(f"There is already a verifier called {shown} on this "
                               "tablet: add an initial to tell you apart.")
        check_new_pin(pin, data.policy, name=shown)
        verifier_id = secrets.token_hex(8)
        key = DataKey.create()
        keys = UnlockedKeys(verifier_id, key, {key.key_id: key})
        # No organisation key before enrolment: the ring has PIN wraps only until
        # `record_enrolment` adds the recovery wraps.
        blank = VerifierKeyring(verifier_id, b"", self._pin_params, key.key_id, {}, {})
        ring, keys = set_pin(blank, keys, pin, self._pin_params)
        paths = self.tablet.store(verifier_id)
        with self._changing() as data:
            if any(_name_key(r.name) == _name_key(shown) for r in data.verifiers.values()):
                raise PinRuleError(f"There is already a verifier called {shown} on this "
                                   "tablet.")
            data.verifiers[verifier_id] = _Record(
                verifier_id, shown, format_instant(self._now()), ring.to_json())
        ensure_private_dir(self.tablet.verifiers_dir)
        ensure_private_dir(paths.root)
        log.info("verifier %s added", verifier_id)
        return Session(verifier_id, shown, paths, Vault(keys))

    def sign_in(self, verifier_id: str, pin: str) -> Session:
        """Open a verifier's keys with their PIN. Raises (errors.py): TooSoonError,
        WrongPinAttemptError, VerifierLockedError, VerifierWipedError, and
        LeaseExpiredError (PIN right, lease over: carries the session)."""
        return self._sign_in(verifier_id, pin, may_wipe=True)

    def check_pin(self, verifier_id: str, pin: str) -> Session:
        """The PIN of a verifier whose store is open, asked again (leaving kiosk mode):
        counted like a sign-in, but the last wrong one locks and never wipes — a wipe
        under the open store would take what was typed since (the app closes the store
        on the lock, then a supervisor's code releases it)."""
        return self._sign_in(verifier_id, pin, may_wipe=False)

    def _sign_in(self, verifier_id: str, pin: str, *, may_wipe: bool) -> Session:
        now = self._now()
        with self._changing() as data:
            record = self._record(verifier_id, data)
            if record.locked == LOCKED_WRONG_PIN:
                raise VerifierLockedError(_LOCKED_TEXT.format(name=record.name))
            # A kill between the last allowed failure and its lockout: finish it now.
            interrupted_lockout = record.failures >= data.policy.max_failures
            if not interrupted_lockout:
                waiting = lockout.retry_at(record.failures,
                                           parse_instant_or_none(record.last_failure_at))
                if waiting is not None and now < waiting:
                    raise TooSoonError(_too_soon(waiting, now), retry_at=waiting)
                # Counted before the check, durably (the `with` writes on exit).
                record.failures += 1
                record.last_failure_at = format_instant(now)
            failures, policy = record.failures, data.policy
            ring_text, name = record.ring, record.name
        if interrupted_lockout:
            return self._lock_out(verifier_id, name, may_wipe=may_wipe)
        try:
            keys = unlock(VerifierKeyring.from_json(ring_text), pin)
        except WrongPinError:
            if failures >= policy.max_failures:
                return self._lock_out(verifier_id, name, may_wipe=may_wipe)
            counted_at = parse_instant_or_none(format_instant(now))  # as stored
            waiting = lockout.retry_at(failures, counted_at)
            remaining = policy.max_failures - failures
            raise WrongPinAttemptError(_wrong_text(remaining, waiting, now),
                                       retry_at=waiting, remaining=remaining) from None
        with self._changing() as data:
            record = self._record(verifier_id, data)
            record.failures, record.last_failure_at = 0, None
            seen = parse_instant_or_none(record.last_seen_at)
            if seen is None or now > seen:
                record.last_seen_at = format_instant(now)
            expired = _lease_expired(record, now)
        session = Session(verifier_id, name, self.tablet.store(verifier_id), Vault(keys))
        if expired:
            raise LeaseExpiredError(_LEASE_TEXT, session=session)
        return session

    def _lock_out(self, verifier_id: str, name: str, *, may_wipe: bool) -> Session:
        """The last allowed wrong PIN: wipe if nothing is unsynced, else lock."""
        unsynced = lockout.unsynced_cases(self.tablet.store(verifier_id)) if may_wipe \
            else None
        if unsynced == 0:
            self.wipe_verifier(verifier_id)
            raise VerifierWipedError(
                f"Too many wrong PINs: {name}'s data was removed from this tablet (all of "
                "it was already on the server). Add the verifier again to go on.")
        with self._changing() as data:
            self._record(verifier_id, data).locked = LOCKED_WRONG_PIN
        log.warning("verifier %s locked after too many wrong PINs", verifier_id)
        raise VerifierLockedError(_LOCKED_TEXT.format(name=name))

    def change_pin(self, session: Session, old_pin: str, new_pin: str) -> Session:
        """A new PIN for the signed-in verifier: the old one must open the ring again
        (counted like any sign-in try), the new one follows the rules and is none of
        the last 3. Data is not touched: the data keys are re-wrapped."""
        data = self._read()
        record = self._record(session.verifier_id, data)
        check_new_pin(new_pin, data.policy, name=record.name)
        try:
            checked = self.sign_in(session.verifier_id, old_pin)
        except LeaseExpiredError as expired:  # the PIN was right: changing it is fine
            checked = expired.session
        ring = VerifierKeyring.from_json(record.ring)
        history = [pin_history.PinCheck.from_json(h) for h in record.pin_history]
        if old_pin == new_pin or any(pin_history.matches(h, session.verifier_id, new_pin)
                                     for h in history):
            raise PinRuleError("Choose a PIN you have not used before (not one of your "
                               "last 3).")
        keys = checked.vault.keys
        assert keys.pin_key is not None  # unlock always sets it
        replaced = pin_history.check_for(session.verifier_id, keys.pin_key, ring.pin_salt,
                                         ring.pin_params)
        new_ring, new_keys = set_pin(ring, keys, new_pin, self._pin_params)
        with self._changing() as data:
            record = self._record(session.verifier_id, data)
            record.ring = new_ring.to_json()
            kept = [replaced.to_json(), *record.pin_history][:PIN_HISTORY - 1]
            record.pin_history = kept
        return Session(session.verifier_id, session.name, session.paths, Vault(new_keys))

    def recover_with_org_key(self, verifier_id: str, org_private: X25519PrivateKey,
                             new_pin: str) -> Session:
        """At the office, offline, with the organisation's recovery private key (never on
        a tablet: it is brought for this and taken away): a verifier who forgot their PIN
        gets a new one, and their cases stay theirs. The keys are opened from the ring's
        recovery wraps, re-wrapped under the new PIN; a lockout and the wrong-PIN count
        are cleared; data is not touched. Another organisation's key: TamperedDataError;
        a ring never wrapped for any (enrolled before the office had a key):
        NotEnrolledError."""
        data = self._read()
        record = self._record(verifier_id, data)
        check_new_pin(new_pin, data.policy, name=record.name)
        ring = VerifierKeyring.from_json(record.ring)
        if not ring.recovery_wraps:
            raise NotEnrolledError("This verifier's keys were never wrapped for an "
                                   "organisation key (not enrolled with one): they cannot "
                                   "be recovered.")
        keys = recover_with_org_key(ring, org_private)  # TamperedDataError: another key
        new_ring, new_keys = set_pin(ring, keys, new_pin, self._pin_params)
        with self._changing() as data:
            record = self._record(verifier_id, data)
            record.ring = new_ring.to_json()
            record.locked, record.failures, record.last_failure_at = None, 0, None
        log.info("a verifier's PIN was reset with the organisation's recovery key")
        return Session(verifier_id, record.name, self.tablet.store(verifier_id),
                       Vault(new_keys))

    # --- supervisor codes, leases, enrolment ---------------------------------------------

    def release_with_code(self, verifier_id: str, code: str) -> None:
        """A supervisor's `pin-release` code clears a wrong-PIN lockout and the count."""
        record = self._record(verifier_id)
        secret, device_id = _office(record)
        if not office_codes.verify_code(secret, "pin-release", device_id, code,
                                        self._today()):
            raise WrongCodeError(_WRONG_CODE)
        with self._changing() as data:
            record = self._record(verifier_id, data)
            record.locked, record.failures, record.last_failure_at = None, 0, None
        log.info("verifier %s released by a supervisor's code", verifier_id)

    def release_devices(self, device_ids: list[str]) -> list[str]:
        """The office released these devices' lockouts (a pull answer's
        `released_devices`, received through any verifier's sync); returns the verifier
        ids released."""
        released: list[str] = []
        with self._changing() as data:
            for record in data.verifiers.values():
                if record.device_id in device_ids and record.locked == LOCKED_WRONG_PIN:
                    record.locked, record.failures, record.last_failure_at = None, 0, None
                    released.append(record.verifier_id)
        return released

    def extend_lease_with_code(self, session: Session, code: str) -> None:
        """A supervisor's `lease` code: the lease runs the default period from now."""
        record = self._record(session.verifier_id)
        secret, device_id = _office(record)
        if not office_codes.verify_code(secret, "lease", device_id, code, self._today()):
            raise WrongCodeError(_WRONG_CODE)
        expires_at = office_codes.lease_expiry(self._now())
        self._store_lease(session.verifier_id, expires_at,
                          office_codes.lease_proof(secret, device_id, expires_at))

    def record_lease(self, session: Session, *, expires_at: str, proof: str) -> bool:
        """A lease from the server (pull answer, GET /v1/lease); False (and ignored) if
        its proof is not the office's for this device."""
        record = self._record(session.verifier_id)
        try:
            secret, device_id = _office(record)
            office_codes.parse_instant(expires_at)
        except (NotEnrolledError, ValueError):
            return False
        if not office_codes.verify_lease(secret, device_id, expires_at, proof):
            log.warning("a lease with a wrong proof was ignored")
            return False
        self._store_lease(session.verifier_id, expires_at, proof)
        return True

    def _store_lease(self, verifier_id: str, expires_at: str, proof: str) -> None:
        with self._changing() as data:
            record = self._record(verifier_id, data)
            record.lease_expires_at, record.lease_proof = expires_at, proof

    def record_enrolment(self, session: Session, *, device_id: str, office_secret: bytes,
                         org_recovery_key: bytes | None) -> None:
        """This verifier's store enrolled as `device_id`. The data keys are wrapped for
        the organisation's recovery key (when the organisation has one), and a first
        lease starts (the server's own replaces it at the first pull)."""
        record = self._record(session.verifier_id)
        ring = VerifierKeyring.from_json(record.ring)
        if org_recovery_key is not None:
            ring = rewrap_for_org_key(ring, session.vault.keys, org_recovery_key)
        expires_at = office_codes.lease_expiry(self._now())
        with self._changing() as data:
            record = self._record(session.verifier_id, data)
            record.ring = ring.to_json()
            record.device_id = device_id
            record.office_secret = office_secret.hex()
            record.org_recovery_key = (base64.b64encode(org_recovery_key).decode("ascii")
                                       if org_recovery_key is not None else None)
            record.lease_expires_at = expires_at
            record.lease_proof = office_codes.lease_proof(office_secret, device_id,
                                                          expires_at)

    def device_id(self, verifier_id: str) -> str | None:
        return self._record(verifier_id).device_id

    def office_secret(self, verifier_id: str) -> bytes | None:
        """For the sync's revocation check (a proof needs it before any wipe)."""
        secret = self._record(verifier_id).office_secret
        return bytes.fromhex(secret) if secret else None

    # --- the sync credential ------------------------------------------------------------

    def set_credential(self, session: Session, token: str) -> None:
        """Kept sealed under the verifier's data key: only their sign-in opens it."""
        sealed = session.vault.seal_text(token, case_id=DEVICE_SCOPE, field=CREDENTIAL_FIELD)
        assert sealed is not None
        with self._changing() as data:
            self._record(session.verifier_id, data).credential = \
                base64.b64encode(sealed).decode("ascii")

    def credential(self, session: Session) -> str | None:
        sealed = self._record(session.verifier_id).credential
        if sealed is None:
            return None
        return session.vault.open_text(base64.b64decode(sealed), case_id=DEVICE_SCOPE,
                                       field=CREDENTIAL_FIELD)

    # --- removal and wipe ------------------------------------------------------------------

    def wipe_verifier(self, verifier_id: str) -> None:
        """Keys first, then files (`wipe`); an interrupted wipe finishes at next start."""
        self._wipe(wipe.WipeOrder(frozenset({verifier_id}), whole_tablet=False))

    def wipe_tablet(self) -> None:
        """Every verifier's keys, then every store and the pre-verifier clear store
        (revocation). The tablet gets a new id: a revoked one is not enrolled again."""
        self._wipe(wipe.WipeOrder(frozenset(self._read().verifiers), whole_tablet=True))

    def _wipe(self, order: wipe.WipeOrder) -> None:
        with registry_locked(self.tablet.registry_lock):
            order = wipe.write_marker(self.tablet, order)
        self._finish_wipe()
        log.warning("wiped %s", "the tablet" if order.whole_tablet
                    else f"{len(order.verifier_ids)} verifier(s)")

    def _finish_wipe(self) -> None:
        order = wipe.read_marker(self.tablet)
        if order is None:
            return
        with self._changing() as data:
            for verifier_id in (list(data.verifiers) if order.whole_tablet
                                else order.verifier_ids):
                data.verifiers.pop(verifier_id, None)
        if wipe.remove_files(self.tablet, order) and order.whole_tablet:
            with registry_locked(self.tablet.registry_lock):
                self.tablet.tablet_file.unlink(missing_ok=True)
                self.tablet_id = _tablet_id(self.tablet)

    def _today(self) -> date:
        return office_codes.utc_today(self._now())


# --- helpers ---------------------------------------------------------------------------

def _tablet_id(tablet: TabletPaths) -> str:
    """Read, or create (caller holds the registry lock), the tablet's random id."""
    try:
        value = json.loads(tablet.tablet_file.read_text(encoding="utf-8"))["tablet_id"]
        if isinstance(value, str) and value:
            return value
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        pass
    value = str(uuid.uuid4())
    replace_durably(tablet.tablet_file, json.dumps({"tablet_id": value}).encode("utf-8"))
    return value


def _clean_name(name: str) -> str:
    shown = " ".join(unicodedata.normalize("NFC", name).split())
    if not shown:
        raise PinRuleError("Give the verifier a name (a first name or initials).")
    if len(shown) > NAME_MAX:
        raise PinRuleError(f"A verifier's name has at most {NAME_MAX} characters.")
    if any(unicodedata.category(c).startswith("C") for c in shown):
        raise PinRuleError("Use letters, digits, spaces and punctuation in the name.")
    return shown


def _name_key(name: str) -> str:
    return " ".join(unicodedata.normalize("NFC", name).casefold().split())


def _office(record: _Record) -> tuple[bytes, str]:
    if record.office_secret is None or record.device_id is None:
        raise NotEnrolledError(
            f"{record.name} has not been enrolled with the office yet, so no supervisor "
            "code can be checked here.")
    return bytes.fromhex(record.office_secret), record.device_id


def _lease_expired(record: _Record, now: datetime) -> bool:
    if record.lease_expires_at is None or record.office_secret is None \
            or record.device_id is None:
        return False  # never enrolled: nothing to renew against
    try:
        expires = office_codes.parse_instant(record.lease_expires_at)
    except ValueError:
        return True
    seen = parse_instant_or_none(record.last_seen_at)
    if seen is not None and seen > now:
        now = seen  # the clock was set back since the last sign-in
    # The proof makes a lease edited by hand count as expired.
    valid = office_codes.verify_lease(bytes.fromhex(record.office_secret),
                                      record.device_id, record.lease_expires_at,
                                      record.lease_proof)
    return not valid or now >= expires


def _wait_text(seconds: float) -> str:
    whole = max(1, round(seconds))
    if whole < 60:
        return f"{whole} second{'s' if whole != 1 else ''}"
    minutes = -(-whole // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _too_soon(waiting: datetime, now: datetime) -> str:
    return f"Wait {_wait_text((waiting - now).total_seconds())} before the next try."


def _wrong_text(remaining: int, waiting: datetime | None, now: datetime) -> str:
    text = "Wrong PIN."
    if remaining <= 3:
        text += (f" {remaining} more wrong tr{'ies' if remaining != 1 else 'y'} and this "
                 "verifier's data is locked (or removed if all of it is on the server).")
    if waiting is not None:
        text += f" Wait {_wait_text((waiting - now).total_seconds())} before the next try."
    return text


_LOCKED_TEXT = ("{name} is locked after too many wrong PINs, and has cases not yet sent. "
                "Ask a supervisor for an unlock code, or ask the office to release this "
                "tablet and sync as another verifier.")
_LEASE_TEXT = ("This tablet has not reached the office for too long. Connect to sync, or "
               "enter a supervisor's code.")
_WRONG_CODE = ("That code is not right for this verifier today. Check it with the "
               "supervisor (codes are valid on the day they are made).")
