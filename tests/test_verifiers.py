"""Verifiers on the tablet (kycdesk/verifiers): the registry file, PIN rules, no reuse,
the wrong-PIN delay and its durable counter (a real process SIGKILLed between the count
and the check), lockout → wipe or lock, supervisor codes, leases, the wipe order and its
resumption after a kill, the sealed credential, the organisation's recovery wraps."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kycdesk.core import office_codes
from kycdesk.paths import TabletPaths, resolve_tablet
from kycdesk.security.keys import (
    Argon2Params,
    VerifierKeyring,
    generate_org_recovery_key,
    public_bytes,
    recover_with_org_key,
)
from kycdesk.verifiers import lockout
from kycdesk.verifiers.errors import (
    LeaseExpiredError,
    NotEnrolledError,
    PinRuleError,
    TooSoonError,
    VerifierLockedError,
    VerifierWipedError,
    WrongCodeError,
    WrongPinAttemptError,
)
from kycdesk.verifiers.pin_rules import PinPolicy, check_new_pin
from kycdesk.verifiers.registry import Registry
from kycdesk.verifiers.session import Session
from tests.tablets import CHEAP_PARAMS

REPO_ROOT = Path(__file__).resolve().parents[1]

PIN = "purple otter sings"
OTHER = "granite kettle drum"


class Clock:
    """The registry's clock, moved by the test (delays are minutes: never slept)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def tablet(tmp_path: Path) -> TabletPaths:
    return resolve_tablet(tmp_path / "tablet")


def _registry(tablet: TabletPaths, clock: Callable[[], datetime] | None = None) -> Registry:
    return Registry.open(tablet, now=clock or Clock(), pin_params=CHEAP_PARAMS)


def _enrol(registry: Registry, session: Session, org_public: bytes | None = None) -> bytes:
    secret = office_codes.new_office_secret()
    registry.record_enrolment(session, device_id=f"dev-{session.verifier_id}",
                              office_secret=secret, org_recovery_key=org_public)
    return secret


def _code(secret: bytes, purpose: office_codes.Purpose, session: Session,
          day: datetime) -> str:
    return office_codes.supervisor_code(secret, purpose, f"dev-{session.verifier_id}",
                                        day.date())


# --- the registry file ------------------------------------------------------------------

def test_a_verifier_round_trips_through_the_registry_file_with_no_secret_in_clear(
        tablet: TabletPaths) -> None:
    """Production argon2id parameters (64 MiB × 3) on purpose: the one test that pays
    them for a whole add + sign-in."""
    registry = Registry.open(tablet)
    session = registry.add("  Amina   Diallo ", PIN)
    assert session.name == "Amina Diallo"
    assert session.paths == tablet.store(session.verifier_id)
    assert session.paths.root.is_dir() and session.paths.root.parent == tablet.verifiers_dir
    assert (session.paths.root.stat().st_mode & 0o777) == 0o700
    again = Registry.open(tablet)
    assert again.tablet_id == registry.tablet_id == json.loads(
        tablet.tablet_file.read_text())["tablet_id"]
    [info] = again.verifiers()
    assert (info.name, info.failures, info.locked, info.enrolled) == \
        ("Amina Diallo", 0, None, False)
    signed = again.sign_in(info.verifier_id, PIN)
    assert signed.vault.keys.current.secret == session.vault.keys.current.secret
    ring = VerifierKeyring.from_json(json.loads(tablet.registry_file.read_text())
                                     ["verifiers"][0]["ring"])
    assert ring.pin_params == Argon2Params()  # the production default
    raw = tablet.registry_file.read_bytes()
    key = session.vault.keys.current.secret
    assert PIN.encode() not in raw and key not in raw and key.hex().encode() not in raw
    assert not list(tablet.root.glob(".verifiers.json.*.tmp"))  # replaced, not left
    with pytest.raises(PinRuleError, match="already a verifier called"):
        again.add("amina diallo", OTHER)


def test_pin_rules(tmp_path: Path) -> None:
    strict, numeric = PinPolicy(), PinPolicy(numeric_pin_allowed=True)
    check_new_pin("correct horse battery", strict)
    for pin, says in [("too short!", "at least 12"),
                      ("123456789012", "digits only is not allowed"),
                      ("1q2w3e4r5t6y7u8i9o0p", "most common passwords"),
                      ("abababababababab", "too few"),
                      (" leading space here", "Spaces"),
                      ("tab\there and there", "letters, digits")]:
        with pytest.raises(PinRuleError, match=says):
            check_new_pin(pin, strict)
    check_new_pin("470913", numeric)
    for pin, says in [("47091", "at least 6 digits"), ("123456", "Repeated or consecutive"),
                      ("987654", "Repeated or consecutive"), ("000000", "Repeated"),
                      ("121212", "most common")]:
        with pytest.raises(PinRuleError, match=says):
            check_new_pin(pin, numeric)
    with pytest.raises(PinRuleError, match="name"):
        check_new_pin("amina2026!!x", strict, name="Amina")
    registry = _registry(resolve_tablet(tmp_path / "t"))
    with pytest.raises(PinRuleError):
        registry.add("Bo", "123456")
    registry.set_policy(numeric)
    registry.add("Bo", "470913")
    assert registry.policy == numeric


def test_a_new_pin_is_none_of_the_last_three(tablet: TabletPaths) -> None:
    registry = _registry(tablet)
    first = "first passphrase one"
    pins = [first, "second passphrase two", "third passphrase three"]
    session = registry.add("Amina", first)
    session = registry.change_pin(session, pins[0], pins[1])
    session = registry.change_pin(session, pins[1], pins[2])
    for reused in pins:  # the current one and the two before it
        with pytest.raises(PinRuleError, match="not used before"):
            registry.change_pin(session, pins[2], reused)
    session = registry.change_pin(session, pins[2], "fourth passphrase four")
    session = registry.change_pin(session, "fourth passphrase four", first)  # 4 back: ok
    assert registry.sign_in(session.verifier_id, first).verifier_id == session.verifier_id
    with pytest.raises(WrongPinAttemptError):
        registry.sign_in(session.verifier_id, pins[2])
    history = json.loads(tablet.registry_file.read_text())["verifiers"][0]["pin_history"]
    assert len(history) == 2 and all(set(h) == {"salt", "params", "check"} for h in history)
    assert not any(p.encode() in tablet.registry_file.read_bytes() for p in pins)


# --- wrong PINs ---------------------------------------------------------------------------

def test_wrong_pins_cost_a_growing_delay_and_a_right_one_resets_the_count(
        tablet: TabletPaths, clock: Clock) -> None:
    registry = _registry(tablet, clock)
    vid = registry.add("Amina", PIN).verifier_id
    for n in (1, 2):
        with pytest.raises(WrongPinAttemptError) as wrong:
            registry.sign_in(vid, OTHER)
        assert wrong.value.retry_at is None and wrong.value.remaining == 10 - n
    waits = []
    for n in range(3, 10):
        with pytest.raises(WrongPinAttemptError) as wrong:
            registry.sign_in(vid, OTHER)
        assert wrong.value.retry_at is not None and wrong.value.remaining == 10 - n
        waits.append((wrong.value.retry_at - clock.now).total_seconds())
        clock.advance(1)
        with pytest.raises(TooSoonError):  # not counted, not checked
            registry.sign_in(vid, PIN)
        assert registry.verifiers()[0].failures == n
        clock.advance(waits[-1])
    assert waits == [5, 10, 20, 40, 80, 160, 320]
    assert lockout.delay_after(12).total_seconds() == 900  # capped at 15 minutes
    registry.sign_in(vid, PIN)
    assert registry.verifiers()[0].failures == 0 and registry.verifiers()[0].retry_at is None


_SIGN_IN_CHILD = """
import sys
from kycdesk.paths import resolve_tablet
from kycdesk.verifiers.registry import Registry
registry = Registry.open(resolve_tablet(sys.argv[1]))
registry.sign_in(sys.argv[2], sys.argv[3])
print("checked")
"""


def test_a_process_killed_between_the_count_and_the_check_gains_no_free_guess(
        tablet: TabletPaths) -> None:
    """The real thing: a separate process signs in with the RIGHT PIN under argon2id
    parameters slow enough (~1 s) to SIGKILL it once the registry file shows its try
    counted, before the check can reset the count. Three kills, three failures counted:
    the next try waits (a guesser that kills the app after each guess gets nothing)."""
    slow = Argon2Params(time_cost=12, memory_kib=65_536, parallelism=1)
    registry = Registry.open(tablet, pin_params=slow)
    vid = registry.add("Amina", PIN).verifier_id
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    for kill in range(1, 4):
        process = subprocess.Popen([sys.executable, "-c", _SIGN_IN_CHILD, str(tablet.root),
                                    vid, PIN], stdout=subprocess.PIPE, env=env)
        deadline = time.monotonic() + 60
        while registry.verifiers()[0].failures < kill and time.monotonic() < deadline:
            time.sleep(0.002)  # polling a file another process writes: no signal exists
        process.send_signal(signal.SIGKILL)
        out, _ = process.communicate(timeout=30)
        assert process.returncode == -signal.SIGKILL and b"checked" not in out, \
            "the child finished its check before the kill: slow its argon2id down"
        assert registry.verifiers()[0].failures == kill
    info = registry.verifiers()[0]
    assert info.retry_at is not None  # the third counted failure starts the delay
    with pytest.raises(TooSoonError):
        registry.sign_in(vid, PIN)


def _draft_in(session: Session) -> None:
    from kycdesk.persistence.commands import CreateCase
    from kycdesk.persistence.store import LocalStore

    with LocalStore(session.paths, vault=session.vault) as store:
        store.run(CreateCase(reference_number="KYC-UNSYNCED-1"))


def _fail_until_lockout(registry: Registry, vid: str, clock: Clock) -> BaseException:
    while True:
        try:
            registry.sign_in(vid, OTHER)
        except WrongPinAttemptError as wrong:
            clock.advance(900)
            assert wrong.remaining > 0
            continue
        except (VerifierWipedError, VerifierLockedError) as end:
            return end


def test_the_last_wrong_pin_wipes_a_verifier_with_nothing_unsynced(
        qapp: object, tablet: TabletPaths, clock: Clock) -> None:
    registry = _registry(tablet, clock)
    registry.set_policy(PinPolicy(max_failures=4))
    keep = registry.add("Bo", OTHER + " b")
    gone = registry.add("Amina", PIN)
    (gone.paths.root / "cases").mkdir()
    (gone.paths.root / "cases" / "c1.kyce").write_bytes(b"ciphertext")
    end = _fail_until_lockout(registry, gone.verifier_id, clock)
    assert isinstance(end, VerifierWipedError) and "removed" in str(end)
    assert [v.name for v in registry.verifiers()] == ["Bo"]
    assert not gone.paths.root.exists() and not tablet.wipe_marker.exists()
    assert gone.verifier_id not in tablet.registry_file.read_text()
    assert keep.paths.root.exists()


def test_the_kiosk_pin_check_locks_but_never_wipes_under_an_open_store(
        qapp: object, tablet: TabletPaths, clock: Clock) -> None:
    """Leaving kiosk mode asks the PIN of a verifier whose store is open: the last wrong
    one locks (the app then closes the store) — a wipe would run under the open store,
    with nothing unsynced or not (a review found this)."""
    registry = _registry(tablet, clock)
    registry.set_policy(PinPolicy(max_failures=3))
    session = registry.add("Amina", PIN)
    assert lockout.unsynced_cases(session.paths) == 0  # a sign-in would wipe now
    while True:
        try:
            registry.check_pin(session.verifier_id, OTHER)
        except WrongPinAttemptError:
            clock.advance(900)
            continue
        except VerifierLockedError:
            break
    assert registry.verifiers()[0].locked == "wrong-pin"
    assert session.paths.root.exists()  # nothing was removed


def test_the_last_wrong_pin_locks_a_verifier_with_unsynced_cases_until_a_code(
        qapp: object, tablet: TabletPaths, clock: Clock) -> None:
    registry = _registry(tablet, clock)
    registry.set_policy(PinPolicy(max_failures=3))
    session = registry.add("Amina", PIN)
    secret = _enrol(registry, session)
    _draft_in(session)
    assert lockout.unsynced_cases(session.paths) == 1
    end = _fail_until_lockout(registry, session.verifier_id, clock)
    assert isinstance(end, VerifierLockedError) and "supervisor" in str(end)
    assert session.paths.database.exists()  # nothing was removed
    with pytest.raises(VerifierLockedError):  # even the right PIN waits for the code
        registry.sign_in(session.verifier_id, PIN)
    assert registry.verifiers()[0].locked == "wrong-pin"
    with pytest.raises(WrongCodeError):
        registry.release_with_code(session.verifier_id, "AAAA-BBBB-CCCC-DDDD")
    lease_code = _code(secret, "lease", session, clock.now)
    with pytest.raises(WrongCodeError):  # a lease code is no release code
        registry.release_with_code(session.verifier_id, lease_code)
    yesterday = clock.now - timedelta(days=1)
    with pytest.raises(WrongCodeError):  # a code for another day
        registry.release_with_code(session.verifier_id,
                                   _code(secret, "pin-release", session, yesterday))
    registry.release_with_code(session.verifier_id,
                               _code(secret, "pin-release", session, clock.now).lower())
    assert registry.verifiers()[0].locked is None
    assert registry.sign_in(session.verifier_id, PIN).verifier_id == session.verifier_id


def test_the_office_releases_a_lockout_through_another_verifiers_sync(
        qapp: object, tablet: TabletPaths, clock: Clock) -> None:
    registry = _registry(tablet, clock)
    registry.set_policy(PinPolicy(max_failures=3))
    session = registry.add("Amina", PIN)
    _enrol(registry, session)
    _draft_in(session)
    _fail_until_lockout(registry, session.verifier_id, clock)
    assert registry.release_devices(["dev-other"]) == []
    assert registry.release_devices([f"dev-{session.verifier_id}"]) == [session.verifier_id]
    registry.sign_in(session.verifier_id, PIN)


def test_a_kill_after_the_last_failure_still_locks_at_the_next_try(
        qapp: object, tablet: TabletPaths, clock: Clock) -> None:
    """A process killed after counting the last allowed failure, before locking: the
    next try (even with the right PIN) finishes the lockout instead of checking."""
    registry = _registry(tablet, clock)
    registry.set_policy(PinPolicy(max_failures=3))
    session = registry.add("Amina", PIN)
    _draft_in(session)
    data = json.loads(tablet.registry_file.read_text())
    data["verifiers"][0]["failures"] = 3  # what the kill left
    tablet.registry_file.write_text(json.dumps(data))
    with pytest.raises(VerifierLockedError):
        registry.sign_in(session.verifier_id, PIN)
    assert registry.verifiers()[0].locked == "wrong-pin"


# --- the lease, enrolment, credential -------------------------------------------------------

def test_an_expired_lease_stops_sign_in_until_a_code_or_the_server_renews_it(
        tablet: TabletPaths, clock: Clock) -> None:
    registry = _registry(tablet, clock)
    session = registry.add("Amina", PIN)
    with pytest.raises(NotEnrolledError):
        registry.extend_lease_with_code(session, "AAAA-BBBB-CCCC-DDDD")
    secret = _enrol(registry, session)
    clock.advance(13 * 86400)
    registry.sign_in(session.verifier_id, PIN)
    clock.advance(2 * 86400)  # 15 days without the server
    assert registry.verifiers()[0].locked == "lease"
    with pytest.raises(LeaseExpiredError) as expired:
        registry.sign_in(session.verifier_id, PIN)
    signed = expired.value.session  # the PIN was right: the page can offer renewal
    assert registry.verifiers()[0].failures == 0
    with pytest.raises(WrongCodeError):
        registry.extend_lease_with_code(signed, _code(secret, "pin-release", signed,
                                                      clock.now))
    registry.extend_lease_with_code(signed, _code(secret, "lease", signed, clock.now))
    assert registry.verifiers()[0].locked is None
    registry.sign_in(session.verifier_id, PIN)
    clock.advance(15 * 86400)
    with pytest.raises(LeaseExpiredError):
        registry.sign_in(session.verifier_id, PIN)
    clock.advance(-5 * 86400)  # the tablet's clock set back: the lease stays over
    with pytest.raises(LeaseExpiredError):
        registry.sign_in(session.verifier_id, PIN)
    registry.extend_lease_with_code(signed, _code(secret, "lease", signed, clock.now))
    registry.sign_in(session.verifier_id, PIN)
    # A lease from the server counts only with the office's proof.
    device = f"dev-{session.verifier_id}"
    later = office_codes.format_instant(clock.now + timedelta(days=30))
    assert not registry.record_lease(signed, expires_at=later, proof="00" * 32)
    assert registry.record_lease(signed, expires_at=later,
                                 proof=office_codes.lease_proof(secret, device, later))
    clock.advance(29 * 86400)
    registry.sign_in(session.verifier_id, PIN)
    # A lease edited by hand on disk (no matching proof) counts as expired.
    data = json.loads(tablet.registry_file.read_text())
    data["verifiers"][0]["lease_expires_at"] = "2099-01-01T00:00:00Z"
    tablet.registry_file.write_text(json.dumps(data))
    assert registry.verifiers()[0].locked == "lease"


def test_enrolment_wraps_the_keys_for_the_organisations_recovery_key(
        tablet: TabletPaths) -> None:
    registry = _registry(tablet)
    session = registry.add("Amina", PIN)
    org = generate_org_recovery_key()
    _enrol(registry, session, public_bytes(org))
    [info] = registry.verifiers()
    assert info.enrolled and registry.device_id(session.verifier_id) == \
        f"dev-{session.verifier_id}"
    ring = VerifierKeyring.from_json(json.loads(tablet.registry_file.read_text())
                                     ["verifiers"][0]["ring"])
    recovered = recover_with_org_key(ring, org)  # at the office, without the PIN
    assert recovered.current.secret == session.vault.keys.current.secret


def test_the_credential_is_sealed_under_the_verifiers_key_and_nowhere_in_clear(
        tablet: TabletPaths) -> None:
    registry = _registry(tablet)
    amina = registry.add("Amina", PIN)
    bo = registry.add("Bo", OTHER)
    token = "kyd_0123456789abcdefghijklmnop"
    registry.set_credential(amina, token)
    assert registry.credential(amina) == token
    assert registry.credential(bo) is None
    again = _registry(tablet).sign_in(amina.verifier_id, PIN)
    assert registry.credential(again) == token
    for path in tablet.root.rglob("*"):
        if path.is_file():
            assert token[4:].encode() not in path.read_bytes(), path


# --- wipe ----------------------------------------------------------------------------------

def test_an_interrupted_wipe_finishes_at_the_next_start(tablet: TabletPaths) -> None:
    """The state a kill leaves after the keys went (marker present, record gone, files
    still there): opening the registry finishes the wipe."""
    registry = _registry(tablet)
    gone = registry.add("Amina", PIN)
    registry.add("Bo", OTHER)
    (gone.paths.root / "cases").mkdir()
    (gone.paths.root / "cases" / "photo.kyce").write_bytes(b"x" * 1000)
    from kycdesk.verifiers import wipe

    wipe.write_marker(tablet, wipe.WipeOrder(frozenset({gone.verifier_id}), False))
    data = json.loads(tablet.registry_file.read_text())
    data["verifiers"] = [v for v in data["verifiers"] if v["name"] != "Amina"]
    tablet.registry_file.write_text(json.dumps(data))
    assert gone.paths.root.exists()
    reopened = _registry(tablet)
    assert not gone.paths.root.exists() and not tablet.wipe_marker.exists()
    assert [v.name for v in reopened.verifiers()] == ["Bo"]


_WIPE_CHILD = """
import sys
from kycdesk.paths import resolve_tablet
from kycdesk.verifiers.registry import Registry
Registry.open(resolve_tablet(sys.argv[1])).wipe_verifier(sys.argv[2])
"""


def test_a_wipe_sigkilled_after_the_keys_went_resumes_at_the_next_start(
        tablet: TabletPaths) -> None:
    """A real process wiping a verifier with many files is SIGKILLed as soon as the
    registry no longer holds their keys: the keys are gone first (the store is already
    ciphertext without a key), and the next start removes the files."""
    registry = _registry(tablet)
    gone = registry.add("Amina", PIN)
    cases = gone.paths.root / "cases"
    for n in range(400):
        folder = cases / f"case-{n}"
        folder.mkdir(parents=True)
        for m in range(40):
            (folder / f"img_{m}.kyce").write_bytes(b"c")
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    process = subprocess.Popen([sys.executable, "-c", _WIPE_CHILD, str(tablet.root),
                                gone.verifier_id], env=env)
    deadline = time.monotonic() + 60
    while registry.verifiers() and time.monotonic() < deadline:
        time.sleep(0.001)  # polling a file another process writes: no signal exists
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    assert registry.verifiers() == []                   # keys first
    assert tablet.wipe_marker.exists() and cases.exists(), "the wipe ended before the kill"
    _registry(tablet)                                   # the next start
    assert not gone.paths.root.exists() and not tablet.wipe_marker.exists()


def test_wiping_the_tablet_removes_every_verifier_and_the_old_clear_store(
        tablet: TabletPaths) -> None:
    registry = _registry(tablet)
    first = registry.tablet_id
    amina = registry.add("Amina", PIN)
    registry.add("Bo", OTHER)
    legacy = tablet.legacy_store()
    legacy.cases_dir.mkdir(parents=True)
    (legacy.cases_dir / "old.jpg").write_bytes(b"\xff\xd8\xff")
    legacy.database.write_bytes(b"SQLite format 3\x00")
    tablet.log_dir.mkdir(parents=True, exist_ok=True)
    (tablet.log_dir / "kycdesk.log").write_text("kept")
    registry.wipe_tablet()
    assert registry.verifiers() == [] and not amina.paths.root.exists()
    assert not legacy.cases_dir.exists() and not legacy.database.exists()
    assert (tablet.log_dir / "kycdesk.log").exists()
    assert registry.tablet_id != first  # a revoked tablet is enrolled again as a new one
