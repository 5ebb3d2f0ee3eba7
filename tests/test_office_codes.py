"""The office secret's proofs and codes (kycdesk/core/office_codes.py): the values are
the documented HMACs (recomputed here from the spec, not from the module), each is bound
to its device, purpose, date and use, and what a hostile reply may carry is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, date, datetime, timedelta

import pytest

from kycdesk.core import office_codes as oc

SECRET = bytes(range(32))
OTHER_SECRET = bytes(range(1, 33))
DEVICE = "dev-0123456789abcdef"


def _spec_mac(message: str, secret: bytes = SECRET) -> bytes:
    return hmac.new(secret, message.encode(), hashlib.sha256).digest()


def test_revocation_proof_is_the_documented_hmac_and_verifies_only_for_its_device() -> None:
    proof = oc.revocation_proof(SECRET, DEVICE)
    assert proof == _spec_mac("kycdesk/revoked/v1|" + DEVICE).hex()
    assert oc.verify_revocation(SECRET, DEVICE, proof)
    assert oc.verify_revocation(SECRET, DEVICE, proof.upper())  # hex either case
    assert not oc.verify_revocation(SECRET, "dev-other", proof)
    assert not oc.verify_revocation(OTHER_SECRET, DEVICE, proof)
    # The whole tablet's revocation has a label of its own: neither proof reads as the other.
    whole = oc.revocation_proof(SECRET, DEVICE, whole_tablet=True)
    assert whole == _spec_mac("kycdesk/revoked-tablet/v1|" + DEVICE).hex()
    assert oc.verify_revocation(SECRET, DEVICE, whole, whole_tablet=True)
    assert not oc.verify_revocation(SECRET, DEVICE, whole)
    assert not oc.verify_revocation(SECRET, DEVICE, proof, whole_tablet=True)


@pytest.mark.parametrize("hostile", [None, "", "zz", 42, ["a"], "00" * 32,
                                     "0" * 63, "ab" * 40])
def test_a_missing_or_malformed_revocation_proof_is_refused(hostile: object) -> None:
    assert not oc.verify_revocation(SECRET, DEVICE, hostile)


def test_lease_proof_covers_the_exact_expiry_text() -> None:
    expires = oc.lease_expiry(datetime(2026, 12, 6, 10, 30, 15, 999, tzinfo=UTC))
    assert expires == "2026-12-20T10:30:15Z"
    proof = oc.lease_proof(SECRET, DEVICE, expires)
    assert proof == _spec_mac(f"kycdesk/lease/v1|{DEVICE}|{expires}").hex()
    assert oc.verify_lease(SECRET, DEVICE, expires, proof)
    assert not oc.verify_lease(SECRET, DEVICE, "2026-12-21T10:30:15Z", proof)  # moved on
    assert not oc.verify_lease(SECRET, "dev-other", expires, proof)
    assert oc.parse_instant(expires) == datetime(2026, 12, 20, 10, 30, 15, tzinfo=UTC)
    with pytest.raises(ValueError):
        oc.parse_instant("2026-12-20T10:30:15")  # no zone: not a lease end


def test_one_use_never_stands_for_another() -> None:
    """The labels keep the values apart: a revocation proof is no lease proof, even for
    an expiry text chosen to make the messages look alike."""
    revoked = oc.revocation_proof(SECRET, DEVICE)
    assert not oc.verify_lease(SECRET, DEVICE, "", revoked)
    head, tail = DEVICE.split("-", 1)
    assert not oc.verify_lease(SECRET, head, tail, revoked)


def test_supervisor_code_is_the_documented_base32_in_groups_of_four() -> None:
    day = date(2026, 12, 6)
    code = oc.supervisor_code(SECRET, "pin-release", DEVICE, day)
    raw = _spec_mac(f"kycdesk/code/v1|pin-release|{DEVICE}|2026-12-06")[:10]
    assert code.replace("-", "") == base64.b32encode(raw).decode()
    assert len(code) == 19 and [len(g) for g in code.split("-")] == [4, 4, 4, 4]


def test_a_code_is_valid_on_its_date_and_the_day_before_only() -> None:
    day = date(2026, 12, 6)
    code = oc.supervisor_code(SECRET, "lease", DEVICE, day)
    assert oc.verify_code(SECRET, "lease", DEVICE, code, day)
    assert oc.verify_code(SECRET, "lease", DEVICE, code, day - timedelta(days=1))
    assert not oc.verify_code(SECRET, "lease", DEVICE, code, day + timedelta(days=1))
    assert not oc.verify_code(SECRET, "lease", DEVICE, code, day - timedelta(days=2))


def test_a_code_is_bound_to_its_purpose_device_and_secret() -> None:
    day = date(2026, 12, 6)
    code = oc.supervisor_code(SECRET, "lease", DEVICE, day)
    assert not oc.verify_code(SECRET, "pin-release", DEVICE, code, day)
    assert not oc.verify_code(SECRET, "lease", "dev-other", code, day)
    assert not oc.verify_code(OTHER_SECRET, "lease", DEVICE, code, day)
    with pytest.raises(ValueError):
        oc.supervisor_code(SECRET, "unlock-all", DEVICE, day)  # type: ignore[arg-type]


def test_what_a_person_types_is_forgiven_case_spaces_dashes_and_lookalikes() -> None:
    day = date(2026, 12, 6)
    code = oc.supervisor_code(SECRET, "pin-release", DEVICE, day)
    typed = code.lower().replace("-", " ").replace("o", "0").replace("i", "1")
    assert oc.verify_code(SECRET, "pin-release", DEVICE, typed, day)
    assert oc.verify_code(SECRET, "pin-release", DEVICE, f"  {code}  ", day)


@pytest.mark.parametrize("typed", ["", "ABCD", "ABCD-EFGH-JKLM-NPQ", "ABCD-EFGH-JKLM-NPQRS",
                                   "!!!!-????-....-,,,,", "AAAA-AAAA-AAAA-AAAA"])
def test_wrong_or_malformed_codes_are_refused(typed: str) -> None:
    assert not oc.verify_code(SECRET, "lease", DEVICE, typed, date(2026, 12, 6))


def test_a_secret_of_the_wrong_length_is_a_bug_not_a_silent_pass() -> None:
    with pytest.raises(ValueError):
        oc.revocation_proof(b"short", DEVICE)
    assert len(oc.new_office_secret()) == 32
    assert oc.new_office_secret() != oc.new_office_secret()
