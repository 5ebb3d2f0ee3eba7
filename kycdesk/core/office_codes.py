"""The office secret's three uses, computed and checked by one module on both sides (the
server imports the core; the tablet checks what it receives): HMAC-SHA256 under the
32-byte secret the server gives a device at enrolment (docs/security.md "Offline lease,
revocation, supervisor codes").

- **revocation proof**: `hex(HMAC(secret, "kycdesk/revoked/v1|" + device_id))`. A
  tablet wipes only on a proof it can check, so a forged "revoked" answer (a captive
  portal, a hostile network) wipes nothing.
- **lease proof**: `hex(HMAC(secret, "kycdesk/lease/v1|" + device_id + "|" +
  expires_at))`, over the exact `expires_at` text the server sent.
- **supervisor code**: `base32(HMAC(secret, "kycdesk/code/v1|" + purpose + "|" +
  device_id + "|" + YYYY-MM-DD)[:10])`, 16 characters shown in groups of 4, for the UTC
  date it names; the tablet accepts it on that date and the day before (its clock may be
  behind the office's). Purposes: `lease` (extends the lease from today) and
  `pin-release` (clears a wrong-PIN lockout).

Every comparison is constant-time (`hmac.compare_digest`). The labels differ per use, so
one value can never stand for another (a revocation proof is not a lease proof). The
secret opens no data: whoever reads it from a tablet's disk can reset counters and
leases of that tablet, nothing more.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import UTC, date, datetime, timedelta
from typing import Literal, get_args

OFFICE_SECRET_BYTES = 32
CODE_BYTES = 10          # 80 bits: 16 base32 characters, no padding
CODE_GROUP = 4
DEFAULT_LEASE_DAYS = 14

Purpose = Literal["lease", "pin-release"]
PURPOSES: tuple[Purpose, ...] = get_args(Purpose)

_REVOKED = "kycdesk/revoked/v1|"
# A whole tablet revoked (every verifier on it wiped) has a label of its own: a proof
# for one verifier's device can never be read as one for the whole tablet.
_REVOKED_TABLET = "kycdesk/revoked-tablet/v1|"
_LEASE = "kycdesk/lease/v1|"
_CODE = "kycdesk/code/v1|"
# What people mistype when they read a code aloud or off a screen: base32 has no 0, 1, 8.
_LOOKALIKES = str.maketrans({"0": "O", "1": "I", "8": "B"})


def new_office_secret() -> bytes:
    return secrets.token_bytes(OFFICE_SECRET_BYTES)


def _mac(secret: bytes, message: str) -> bytes:
    if len(secret) != OFFICE_SECRET_BYTES:
        raise ValueError(f"an office secret is {OFFICE_SECRET_BYTES} bytes")
    return hmac.new(secret, message.encode("utf-8"), hashlib.sha256).digest()


def _same_hex(expected: bytes, given: object) -> bool:
    """`given` (anything a reply carried) is the hex of `expected`, in constant time."""
    if not isinstance(given, str):
        return False
    try:
        raw = bytes.fromhex(given)
    except ValueError:
        return False
    return hmac.compare_digest(expected, raw)


# -- revocation -----------------------------------------------------------------------
def revocation_proof(secret: bytes, device_id: str, *, whole_tablet: bool = False) -> str:
    return _mac(secret, (_REVOKED_TABLET if whole_tablet else _REVOKED) + device_id).hex()


def verify_revocation(secret: bytes, device_id: str, proof: object, *,
                      whole_tablet: bool = False) -> bool:
    return _same_hex(_mac(secret, (_REVOKED_TABLET if whole_tablet else _REVOKED)
                          + device_id), proof)


# -- lease ----------------------------------------------------------------------------
def format_instant(moment: datetime) -> str:
    """The one text form of a lease's end (UTC, seconds, `Z`): the proof covers it."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_instant(text: str) -> datetime:
    """`format_instant`'s text back (ValueError for anything else, or without a zone)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("a lease's end names its time zone")
    return moment.astimezone(UTC)


def lease_expiry(now: datetime, days: int = DEFAULT_LEASE_DAYS) -> str:
    return format_instant(now + timedelta(days=days))


def lease_proof(secret: bytes, device_id: str, expires_at: str) -> str:
    return _mac(secret, f"{_LEASE}{device_id}|{expires_at}").hex()


def verify_lease(secret: bytes, device_id: str, expires_at: str, proof: object) -> bool:
    return _same_hex(_mac(secret, f"{_LEASE}{device_id}|{expires_at}"), proof)


# -- supervisor codes -----------------------------------------------------------------
def _code_bytes(secret: bytes, purpose: Purpose, device_id: str, day: date) -> bytes:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown purpose {purpose!r}")
    return _mac(secret, f"{_CODE}{purpose}|{device_id}|{day.isoformat()}")[:CODE_BYTES]


def supervisor_code(secret: bytes, purpose: Purpose, device_id: str, day: date) -> str:
    """The code for `day` (the office's UTC date), e.g. `ABCD-EFGH-JKLM-NPQR`."""
    text = base64.b32encode(_code_bytes(secret, purpose, device_id, day)).decode("ascii")
    return "-".join(text[i:i + CODE_GROUP] for i in range(0, len(text), CODE_GROUP))


def normalise_code(typed: str) -> str:
    """What a person typed: case, spaces and dashes do not matter, nor 0/O, 1/I, 8/B."""
    return "".join(c for c in typed.upper() if c.isalnum()).translate(_LOOKALIKES)


def verify_code(secret: bytes, purpose: Purpose, device_id: str, typed: str,
                today: date) -> bool:
    """The code is the office's for this purpose and device, for the tablet's UTC date
    `today` or the next one (the office is ahead when the tablet's clock is behind)."""
    text = normalise_code(typed)
    try:
        given = base64.b32decode(text, casefold=False) if len(text) == 16 else b""
    except ValueError:
        given = b""
    matched = False
    for day in (today, today + timedelta(days=1)):
        # Both dates are always checked: the time taken does not say which one matched.
        expected = _code_bytes(secret, purpose, device_id, day)
        matched |= hmac.compare_digest(expected, given.ljust(CODE_BYTES, b"\0"))
    return matched and len(given) == CODE_BYTES


def utc_today(now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(UTC).date()
