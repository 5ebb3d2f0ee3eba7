"""The signed-in verifier's keys as the store uses them: one object handed to every part
that reads or writes personal data (the writer, the readers, the sync, the index).

A `Vault` exists only between sign-in and lock/sign-out; dropping it drops the keys (as
far as Python allows: docs/security.md, *Out of scope*). Values are sealed with
`sealing.Sealer` (AAD = case id + field), files with `streams` (context = what the file is
and whose: see `file_context`).

`case_id` for values that belong to no case (the device token, the lease, the index
snapshot) is a fixed label starting with "@" (`DEVICE_SCOPE`), which no case id can be.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, BinaryIO

from kycdesk.security import streams
from kycdesk.security.keys import DataKey, UnlockedKeys
from kycdesk.security.sealing import Sealer

DEVICE_SCOPE = "@device"


def file_context(case_id: str, name: str) -> bytes:
    """What binds an encrypted file to its place: the case and the file's role/name
    (e.g. ``file_context(case, "img_3")``, ``file_context(case, "thumb_3")``). A file
    presented as another case's photo, or a thumbnail as the photo, does not open."""
    case = case_id.encode("utf-8")
    role = name.encode("utf-8")
    return len(case).to_bytes(4, "big") + case + len(role).to_bytes(4, "big") + role


class Vault:
    """Seal and open values and files under one verifier's keys (thread-safe)."""

    def __init__(self, keys: UnlockedKeys) -> None:
        self._keys = keys
        self._sealer = Sealer(keys)

    @classmethod
    def ephemeral(cls, label: str) -> Vault:
        """A vault whose one key exists only in this process's memory: for scratch stores
        that die with the process (the self-test's, a screenshot tool's). Nothing sealed
        under it can be opened once the process ends."""
        key = DataKey.create()
        return cls(UnlockedKeys(label, key, {key.key_id: key}))

    @property
    def verifier(self) -> str:
        """The verifier id the keys belong to (opaque, not the display name)."""
        return self._keys.verifier

    @property
    def keys(self) -> UnlockedKeys:
        return self._keys

    # --- values --------------------------------------------------------------------

    def seal(self, value: bytes, *, case_id: str, field: str) -> bytes:
        return self._sealer.seal(value, case_id=case_id, field=field)

    def open(self, sealed: bytes, *, case_id: str, field: str) -> bytes:
        return self._sealer.open(sealed, case_id=case_id, field=field)

    def seal_text(self, text: str | None, *, case_id: str, field: str) -> bytes | None:
        """None stays None (an absent value is not personal; a column stays nullable)."""
        if text is None:
            return None
        return self._sealer.seal_text(text, case_id=case_id, field=field)

    def open_text(self, sealed: bytes | None, *, case_id: str, field: str) -> str | None:
        if sealed is None:
            return None
        return self._sealer.open_text(bytes(sealed), case_id=case_id, field=field)

    def seal_json(self, value: Any, *, case_id: str, field: str) -> bytes:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        return self._sealer.seal_text(text, case_id=case_id, field=field)

    def open_json(self, sealed: bytes, *, case_id: str, field: str) -> Any:
        return json.loads(self._sealer.open_text(bytes(sealed), case_id=case_id, field=field))

    # --- files ---------------------------------------------------------------------

    def encrypting_writer(self, out: BinaryIO, context: bytes) -> streams.EncryptingWriter:
        """Ciphertext of what is written goes to `out`, under the current key. The caller
        owns durability (temp name, fsync, rename, then record) and calls `close()`."""
        return streams.EncryptingWriter(out, self._keys.current, context)

    def decrypt_chunks(self, src: BinaryIO, context: bytes) -> Iterator[bytes]:
        return streams.decrypt_chunks(src, self._keys, context)

    def decrypt_from(self, src: BinaryIO, context: bytes, offset: int) -> Iterator[bytes]:
        return streams.decrypt_from(src, self._keys, context, offset)

    def read_file_bytes(self, src: BinaryIO, context: bytes) -> bytes:
        """A whole small file (a thumbnail) in memory, authenticated to its end."""
        return b"".join(self.decrypt_chunks(src, context))
