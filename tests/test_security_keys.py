"""The verifier's key ring (kycdesk/security/keys.py): PIN wrap, organisation recovery,
PIN change and rotation re-wrapping keys (never data). Rings go through real JSON files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from kycdesk.security import keys as k
from kycdesk.security.errors import TamperedDataError, WrongPinError
from kycdesk.security.sealing import Sealer

# Cheap argon2id for tests of the logic; the default cost is exercised once below.
FAST = k.Argon2Params(time_cost=1, memory_kib=1024, parallelism=1)


def _store(path: Path, ring: k.VerifierKeyring) -> k.VerifierKeyring:
    path.write_text(ring.to_json(), encoding="utf-8")
    return k.VerifierKeyring.from_json(path.read_text(encoding="utf-8"))


@pytest.fixture
def org() -> tuple[X25519PrivateKey, bytes]:
    private = k.generate_org_recovery_key()
    return private, k.public_bytes(private)


def test_unlock_with_the_right_pin_after_a_round_trip_through_a_file(tmp_path, org):
    ring, keys = k.enrol("amina", "4821 blue heron", org[1], FAST)
    stored = _store(tmp_path / "ring.json", ring)
    assert k.unlock(stored, "4821 blue heron").current.secret == keys.current.secret


def test_the_ring_file_holds_no_key_and_no_pin(tmp_path, org):
    ring, keys = k.enrol("amina", "4821 blue heron", org[1], FAST)
    raw = (tmp_path / "ring.json")
    raw.write_text(ring.to_json(), encoding="utf-8")
    data = raw.read_bytes()
    assert keys.current.secret not in data
    assert b"4821" not in data and b"heron" not in data
    assert keys.pin_key is not None and keys.pin_key not in data
    assert "secret" not in repr(keys) and keys.current.secret.hex() not in repr(keys)


def test_a_wrong_pin_is_refused_with_no_hint_why(org):
    ring, _ = k.enrol("amina", "4821 blue heron", org[1], FAST)
    for wrong in ("4821 blue hero", "", "4821 BLUE HERON"):
        with pytest.raises(WrongPinError) as caught:
            k.unlock(ring, wrong)
        assert str(caught.value) == "That PIN is not right."


def test_the_same_passphrase_typed_as_composed_or_decomposed_unlocks(org):
    ring, _ = k.enrol("amina", "caf\u00e9 1234", org[1], FAST)
    k.unlock(ring, "cafe\u0301 1234")


def test_a_ring_is_bound_to_its_verifier(tmp_path, org):
    ring, _ = k.enrol("amina", "4821 blue heron", org[1], FAST)
    data = json.loads(ring.to_json())
    data["verifier"] = "bruno"
    moved = k.VerifierKeyring.from_json(json.dumps(data))
    with pytest.raises(WrongPinError):
        k.unlock(moved, "4821 blue heron")
    with pytest.raises(TamperedDataError):
        k.recover_with_org_key(moved, org[0])


def test_the_default_cost_is_argon2id_at_64_mib(org):
    assert k.Argon2Params(3, 65_536, 1) == k.DEFAULT_PIN_PARAMS
    ring, _ = k.enrol("amina", "4821 blue heron", org[1])
    assert ring.pin_params == k.DEFAULT_PIN_PARAMS
    k.unlock(ring, "4821 blue heron")


def test_pin_change_keeps_sealed_data_readable_without_touching_it(tmp_path, org):
    ring, keys = k.enrol("amina", "old pin 1111", org[1], FAST)
    sealed = Sealer(keys).seal_text("AB123456C", case_id="c1", field="identity.number")
    data_file = tmp_path / "answer.bin"
    data_file.write_bytes(sealed)
    before = data_file.stat().st_mtime_ns

    changed = _store(tmp_path / "ring.json", k.change_pin(ring, "old pin 1111",
                                                         "new pin 2222", FAST))
    with pytest.raises(WrongPinError):
        k.unlock(changed, "old pin 1111")
    reopened = k.unlock(changed, "new pin 2222")
    assert Sealer(reopened).open_text(data_file.read_bytes(), case_id="c1",
                                      field="identity.number") == "AB123456C"
    assert data_file.stat().st_mtime_ns == before
    assert changed.pin_salt != ring.pin_salt
    assert changed.recovery_wraps == ring.recovery_wraps


def test_pin_change_needs_the_old_pin(org):
    ring, _ = k.enrol("amina", "old pin 1111", org[1], FAST)
    with pytest.raises(WrongPinError):
        k.change_pin(ring, "guess 0000", "new pin 2222", FAST)


def test_the_office_recovers_a_forgotten_pin_with_its_private_key_offline(tmp_path, org):
    ring, keys = k.enrol("amina", "forgotten 9999", org[1], FAST)
    rotated, keys = k.rotate_data_key(ring, keys, org[1])
    sealer = Sealer(keys)
    old = Sealer(k.UnlockedKeys("amina", keys.by_id[ring.current_key_id],
                                {ring.current_key_id: keys.by_id[ring.current_key_id]}))
    before_rotation = old.seal_text("Amina Yusuf", case_id="c1", field="applicant.name")
    after_rotation = sealer.seal_text("52,000", case_id="c1", field="income")

    # At the office: the ring from the device and the private key, no PIN, no network.
    on_office_disk = _store(tmp_path / "ring-from-device.json", rotated)
    recovered = k.recover_with_org_key(on_office_disk, org[0])
    opener = Sealer(recovered)
    assert opener.open_text(before_rotation, case_id="c1", field="applicant.name") == (
        "Amina Yusuf")
    assert opener.open_text(after_rotation, case_id="c1", field="income") == "52,000"

    # Hand the ring back under a new PIN chosen with the verifier.
    reset, _ = k.set_pin(on_office_disk, recovered, "fresh 3131", FAST)
    again = Sealer(k.unlock(_store(tmp_path / "ring-reset.json", reset), "fresh 3131"))
    assert again.open_text(before_rotation, case_id="c1", field="applicant.name") == (
        "Amina Yusuf")


def test_another_organisation_key_cannot_recover(org):
    ring, _ = k.enrol("amina", "4821 blue heron", org[1], FAST)
    with pytest.raises(TamperedDataError):
        k.recover_with_org_key(ring, k.generate_org_recovery_key())


def test_a_changed_recovery_wrap_is_detected(org):
    ring, _ = k.enrol("amina", "4821 blue heron", org[1], FAST)
    data = json.loads(ring.to_json())
    (key_id, (fingerprint, ephemeral, sealed)), = data["recovery_wraps"].items()
    raw = bytearray(k._unb64(sealed))
    raw[3] ^= 1
    data["recovery_wraps"][key_id] = [fingerprint, ephemeral, k._b64(bytes(raw))]
    with pytest.raises(TamperedDataError):
        k.recover_with_org_key(k.VerifierKeyring.from_json(json.dumps(data)), org[0])


def test_rotation_adds_a_current_key_and_keeps_old_data_readable(org):
    ring, keys = k.enrol("amina", "4821 blue heron", org[1], FAST)
    old_sealed = Sealer(keys).seal(b"old answer", case_id="c1", field="f")
    rotated, new_keys = k.rotate_data_key(ring, keys, org[1])
    assert rotated.current_key_id != ring.current_key_id
    assert set(rotated.pin_wraps) == {ring.current_key_id, rotated.current_key_id}
    # The rotation re-used the PIN key: the rotated ring unlocks with the same PIN.
    reopened = k.unlock(rotated, "4821 blue heron")
    new_sealed = Sealer(new_keys).seal(b"new answer", case_id="c1", field="f")
    assert new_sealed[1:9] == rotated.current_key_id
    assert Sealer(reopened).open(old_sealed, case_id="c1", field="f") == b"old answer"
    assert Sealer(reopened).open(new_sealed, case_id="c1", field="f") == b"new answer"


def test_the_organisation_key_rotates_by_rewrapping(org):
    ring, keys = k.enrol("amina", "4821 blue heron", org[1], FAST)
    new_org = k.generate_org_recovery_key()
    moved = k.rewrap_for_org_key(ring, keys, k.public_bytes(new_org))
    assert k.recover_with_org_key(moved, new_org).current.secret == keys.current.secret
    with pytest.raises(TamperedDataError):
        k.recover_with_org_key(moved, org[0])


def test_the_ring_refuses_a_format_it_does_not_know(org):
    ring, _ = k.enrol("amina", "4821 blue heron", org[1], FAST)
    data = json.loads(ring.to_json())
    data["format"] = 2
    with pytest.raises(TamperedDataError):
        k.VerifierKeyring.from_json(json.dumps(data))


ALLOWED_THIRD_PARTY = ("cryptography", "_openssl", "argon2", "_argon2_cffi_bindings",
                       "_cffi_backend", "cffi", "kycdesk")
# Loaded by the interpreter's start-up, not by the package: the editable install's path
# finder and setuptools' distutils shim.
START_UP = ("__main__", "_distutils_hack")


def test_the_package_loads_nothing_but_the_standard_library_cryptography_and_argon2():
    """The import-linter contract forbids listed modules; this checks the whole set."""
    script = ("import sys; import kycdesk.security.keys, kycdesk.security.sealing, "
              "kycdesk.security.streams; print('\\n'.join(sorted(sys.modules)))")
    loaded = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True,
                            text=True).stdout.split()
    stdlib = sys.stdlib_module_names
    foreign = sorted({name.split(".")[0] for name in loaded}
                     - set(stdlib) - set(ALLOWED_THIRD_PARTY) - set(START_UP))
    assert [name for name in foreign if not name.startswith("__editable__")] == []
    assert [name for name in loaded if name.startswith("kycdesk.")
            and not name.startswith("kycdesk.security")] == []


@pytest.mark.parametrize("damage", ["", "{", "[]", '{"format": 1}',
                                    '{"format": 1, "pin_params": "x"}'])
def test_a_damaged_ring_file_is_refused_with_a_clear_error(tmp_path, damage):
    path = tmp_path / "ring.json"
    path.write_text(damage, encoding="utf-8")
    with pytest.raises(TamperedDataError, match="damaged"):
        k.VerifierKeyring.from_json(path.read_text(encoding="utf-8"))
