"""A case archive sealed to a passphrase: what `kycdesk case export` writes by default, so
a case carried off the tablet by hand (a USB stick, a shared folder) is not readable by
whoever finds it (docs/security.md, *Exports*).

    file = "KYCA" ‖ version(1) ‖ argon2id t(4) ‖ m KiB(4) ‖ p(4) ‖ salt(16) ‖ stream

The stream is `streams`' chunked AES-256-GCM (a per-file key from HKDF of the key below,
chunk nonces by construction) under a key derived from the passphrase with argon2id at
the verifiers' PIN cost; its associated data binds it to this header, so neither the
cost nor the salt can be changed without the archive failing to open. A wrong
passphrase and a changed file give the same `TamperedDataError`.
"""

from __future__ import annotations

import io
import os
import struct
from typing import BinaryIO

from kycdesk.security import streams
from kycdesk.security.errors import TamperedDataError
from kycdesk.security.keys import (
    DEFAULT_PIN_PARAMS,
    SALT_BYTES,
    Argon2Params,
    DataKey,
    UnlockedKeys,
    derive_pin_key,
)

MAGIC = b"KYCA"
VERSION = 1
_HEADER = struct.Struct(f">4sBIII{SALT_BYTES}s")
MIN_PASSPHRASE = 12


def is_sealed(head: bytes) -> bool:
    """Whether a file starting with `head` (its first bytes) is a sealed archive."""
    return head.startswith(MAGIC)


def _key(passphrase: str, salt: bytes, params: Argon2Params) -> DataKey:
    return DataKey(derive_pin_key(passphrase, salt, params))


def seal(plain: BinaryIO, out: BinaryIO, passphrase: str,
         params: Argon2Params = DEFAULT_PIN_PARAMS) -> None:
    """Write `plain` (the archive's zip) to `out`, sealed. The caller owns durability."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise ValueError(f"the archive's passphrase must have at least {MIN_PASSPHRASE} "
                         "characters")
    salt = os.urandom(SALT_BYTES)
    header = _HEADER.pack(MAGIC, VERSION, params.time_cost, params.memory_kib,
                          params.parallelism, salt)
    out.write(header)
    streams.encrypt_stream(plain, out, _key(passphrase, salt, params), header)


def open_sealed(src: BinaryIO, passphrase: str) -> io.BytesIO:
    """The archive's zip, in memory (never a clear file), authenticated to its end."""
    raw = src.read(_HEADER.size)
    if len(raw) < _HEADER.size:
        raise TamperedDataError("This sealed archive is cut short.")
    magic, version, time_cost, memory_kib, parallelism, salt = _HEADER.unpack(raw)
    if magic != MAGIC or version != VERSION:
        raise TamperedDataError("This is not a sealed kycdesk archive of a known version.")
    key = _key(passphrase, salt, Argon2Params.stored(time_cost, memory_kib, parallelism))
    plain = io.BytesIO()
    try:
        streams.decrypt_stream(src, plain, UnlockedKeys("archive", key, {key.key_id: key}),
                               raw)
    except TamperedDataError:
        raise TamperedDataError("The passphrase is wrong, or the archive was changed or "
                                "damaged.") from None
    plain.seek(0)
    return plain
