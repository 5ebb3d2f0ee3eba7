"""TOTP (RFC 6238) second factor through `cryptography`'s vetted implementation: 6 digits,
30-second steps, SHA-1 (what every authenticator app reads from an otpauth:// URI).
A code is accepted one step either side of the server's clock (phones drift); which
step matched is returned so the caller can refuse the same step twice (replay)."""

from __future__ import annotations

import base64
import os
import time

from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor import InvalidToken
from cryptography.hazmat.primitives.twofactor.totp import TOTP

STEP_S = 30
DIGITS = 6
ISSUER = "kycdesk back office"


def new_secret() -> bytes:
    return os.urandom(20)  # 160 bits: RFC 4226's recommended length


def _totp(secret: bytes) -> TOTP:
    return TOTP(secret, DIGITS, SHA1(), STEP_S, enforce_key_length=True)


def secret_text(secret: bytes) -> str:
    """The base32 form a person types into an authenticator app by hand."""
    return base64.b32encode(secret).decode("ascii").rstrip("=")


def provisioning_uri(secret: bytes, username: str) -> str:
    return _totp(secret).get_provisioning_uri(username, ISSUER)


def code_at(secret: bytes, at: float | None = None) -> str:
    """The code for a moment (tests and the enrolment check use it)."""
    return _totp(secret).generate(int(time.time() if at is None else at)).decode("ascii")


def matching_step(secret: bytes, code: str, at: float | None = None) -> int | None:
    """The time step `code` is valid for around `at` (±1 step), or None."""
    code = code.strip().replace(" ", "")
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        return None
    moment = time.time() if at is None else at
    totp = _totp(secret)
    for offset in (0, -1, 1):
        when = int(moment) + offset * STEP_S
        try:
            totp.verify(code.encode("ascii"), when)
        except InvalidToken:
            continue
        return when // STEP_S
    return None
