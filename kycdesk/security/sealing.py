"""Small values (an answer, a journal row, an event's detail, a search row) sealed with
AES-256-GCM under the verifier's current data key.

    sealed = version(1) ‖ key id(8) ‖ nonce(12) ‖ ciphertext ‖ tag(16)

The associated data binds a value to its case and field: a sealed ID number copied onto
another case, or into the applicant-name column, does not open (`TamperedDataError`).

Nonces are unique by construction, not by luck: a `Sealer` draws a random 8-byte prefix
when it is made (once per sign-in) and counts the last 4 bytes up; it refuses to seal a
2^32-th value rather than wrap. Two sealers (two sign-ins) collide only if their random
prefixes collide: ~S²/2^65 for S sign-ins under one key (10^6 sign-ins: 3·10^-8).
"""

from __future__ import annotations

import os
import struct
import threading

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kycdesk.security.errors import TamperedDataError
from kycdesk.security.keys import KEY_ID_BYTES, NONCE_BYTES, DataKey, UnlockedKeys

SEAL_VERSION = 1
_LABEL = b"kycdesk/seal/v1"
PREFIX_BYTES = 8
COUNTER_LIMIT = 2**32
HEADER_BYTES = 1 + KEY_ID_BYTES + NONCE_BYTES
TAG_BYTES = 16


def _aad(version: int, key_id: bytes, case_id: str, field: str) -> bytes:
    case = case_id.encode("utf-8")
    name = field.encode("utf-8")
    return b"".join((_LABEL, bytes((version,)), key_id, struct.pack(">I", len(case)), case,
                     struct.pack(">I", len(name)), name))


class NoncesExhaustedError(RuntimeError):
    """This sealer sealed 2^32 values; make a new one (a new random prefix)."""


class Sealer:
    """Seals under the current key and opens under any key of the verifier. Safe to share
    between threads (the counter is taken under a lock)."""

    def __init__(self, keys: UnlockedKeys) -> None:
        self._keys = keys
        self._aeads: dict[bytes, AESGCM] = {}
        self._prefix = os.urandom(PREFIX_BYTES)
        self._counter = 0
        self._lock = threading.Lock()

    def _aead(self, key: DataKey) -> AESGCM:
        aead = self._aeads.get(key.key_id)
        if aead is None:
            aead = self._aeads[key.key_id] = AESGCM(key.secret)
        return aead

    def _next_nonce(self) -> bytes:
        with self._lock:
            if self._counter >= COUNTER_LIMIT:
                raise NoncesExhaustedError("sign in again to seal more values")
            counter = self._counter
            self._counter += 1
        return self._prefix + struct.pack(">I", counter)

    def seal(self, value: bytes, *, case_id: str, field: str) -> bytes:
        key = self._keys.current
        nonce = self._next_nonce()
        header = bytes((SEAL_VERSION,)) + key.key_id + nonce
        return header + self._aead(key).encrypt(
            nonce, value, _aad(SEAL_VERSION, key.key_id, case_id, field))

    def open(self, sealed: bytes, *, case_id: str, field: str) -> bytes:
        if len(sealed) < HEADER_BYTES + TAG_BYTES or sealed[0] != SEAL_VERSION:
            raise TamperedDataError("This value is not a sealed kycdesk value.")
        key_id = sealed[1:1 + KEY_ID_BYTES]
        nonce = sealed[1 + KEY_ID_BYTES:HEADER_BYTES]
        key = self._keys.get(key_id)
        try:
            return self._aead(key).decrypt(nonce, sealed[HEADER_BYTES:],
                                           _aad(SEAL_VERSION, key_id, case_id, field))
        except InvalidTag:
            raise TamperedDataError("This value was changed or belongs to another case or "
                               "field.") from None

    def seal_text(self, text: str, *, case_id: str, field: str) -> bytes:
        return self.seal(text.encode("utf-8"), case_id=case_id, field=field)

    def open_text(self, sealed: bytes, *, case_id: str, field: str) -> str:
        return self.open(sealed, case_id=case_id, field=field).decode("utf-8")
