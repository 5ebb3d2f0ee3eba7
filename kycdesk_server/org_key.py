"""The organisation's recovery public key (X25519, 32 bytes), set by an administrator
(`kycdesk-server org-key set FILE`) and handed to every tablet at enrolment, which wraps
each verifier's data keys to it (docs/security.md "Recovery key handling"). The private
half never comes near the server: a file holding a private key is refused, not read."""

from __future__ import annotations

import base64
import binascii

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_public_key,
)

from kycdesk.security.keys import org_fingerprint_text

SETTING = "org_recovery_public_key"  # server_settings.name; the value is base64
KEY_BYTES = 32


class OrgKeyError(ValueError):
    """The file is not an X25519 public key (the message says what it is instead)."""


def parse_public_key(raw: bytes) -> bytes:
    """The 32 key bytes from a file: a PEM public key (`openssl pkey -pubout`), the
    base64 or hex of the 32 bytes, or the 32 bytes themselves."""
    text = raw.strip()
    if b"PRIVATE KEY" in text:
        raise OrgKeyError("This file holds a private key. Only the public half goes to "
                          "the server; keep the private key offline.")
    if text.startswith(b"-----BEGIN"):
        try:
            key = load_pem_public_key(text)
        except ValueError as exc:
            raise OrgKeyError("The PEM file is not a public key this server can read."
                              ) from exc
        if not isinstance(key, X25519PublicKey):
            raise OrgKeyError("The PEM file holds another kind of key; the recovery key "
                              "is X25519 (openssl genpkey -algorithm X25519).")
        return key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    candidates: list[bytes] = [raw] if len(raw) == KEY_BYTES else []
    def strict_b64(value: str) -> bytes:
        return base64.b64decode(value, validate=True)

    for decoder in (strict_b64, bytes.fromhex):
        try:
            candidates.append(decoder(text.decode("ascii")))
        except (ValueError, binascii.Error, UnicodeDecodeError):
            continue
    for candidate in candidates:
        if len(candidate) == KEY_BYTES:
            X25519PublicKey.from_public_bytes(candidate)  # any 32 bytes; shape checked
            return candidate
    raise OrgKeyError("The file is not an X25519 public key (32 bytes, their base64 or "
                      "hex, or a PEM public key).")


def fingerprint(public: bytes) -> str:
    """What the office compares with the fingerprint a tablet shows: the hex of
    `kycdesk.security.keys.org_fingerprint`, in groups of four."""
    return org_fingerprint_text(public)


def encode(public: bytes) -> str:
    return base64.b64encode(public).decode("ascii")


def decode(value: str) -> bytes:
    return base64.b64decode(value)
