"""No reuse of the last PINs, without keeping any PIN.

For each earlier PIN the registry keeps its salt, its argon2id parameters and an AEAD
check value: AES-256-GCM under that PIN's key of nothing, with a label, the verifier id,
the parameters and the salt as associated data. A candidate PIN matches if its key
(one argon2id with the kept salt and parameters) opens the check. This costs a guesser
exactly what the key ring itself costs (same derivation), and reveals nothing the old
wraps of the ring did not already: an old PIN stays as hard to find as it was.
"""

from __future__ import annotations

import base64
import os
import struct
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kycdesk.security.keys import NONCE_BYTES, Argon2Params, derive_pin_key

_LABEL = b"kycdesk/pin-history/v1"


def _aad(verifier_id: str, salt: bytes, params: Argon2Params) -> bytes:
    parts = (_LABEL, verifier_id.encode("utf-8"), params.encode(), salt)
    return b"".join(struct.pack(">I", len(part)) + part for part in parts)


@dataclass(frozen=True)
class PinCheck:
    salt: bytes
    params: Argon2Params
    check: bytes           # nonce ‖ tag

    def to_json(self) -> dict[str, object]:
        return {"salt": base64.b64encode(self.salt).decode("ascii"),
                "params": [self.params.time_cost, self.params.memory_kib,
                           self.params.parallelism],
                "check": base64.b64encode(self.check).decode("ascii")}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PinCheck:
        time_cost, memory_kib, parallelism = (int(v) for v in data["params"])
        return cls(base64.b64decode(str(data["salt"])),
                   Argon2Params.stored(time_cost, memory_kib, parallelism),
                   base64.b64decode(str(data["check"])))


def check_for(verifier_id: str, pin_key: bytes, salt: bytes,
              params: Argon2Params) -> PinCheck:
    """The check of a PIN whose key is already known (the PIN being replaced)."""
    nonce = os.urandom(NONCE_BYTES)
    tag = AESGCM(pin_key).encrypt(nonce, b"", _aad(verifier_id, salt, params))
    return PinCheck(salt, params, nonce + tag)


def matches(entry: PinCheck, verifier_id: str, pin: str) -> bool:
    key = derive_pin_key(pin, entry.salt, entry.params)
    nonce, tag = entry.check[:NONCE_BYTES], entry.check[NONCE_BYTES:]
    try:
        AESGCM(key).decrypt(nonce, tag, _aad(verifier_id, entry.salt, entry.params))
    except InvalidTag:
        return False
    return True
