"""The sync's handles on encrypted photo files (`sync.photo_files`): an upload reads the
plaintext from any offset; a download is encrypted as it arrives and resumes after the
complete chunks of its partial file.

Download, step by step (`paths.partial_download`, context = the photo's, so the verified
file is renamed into the case folder as it is):
- resume: the partial file's complete chunks are authenticated and re-encrypted into a
  fresh file (new salt and nonce prefix: no nonce is ever used twice, whatever a torn
  chunk held), renamed over the partial; the download continues after their plaintext;
- every 64 KiB chunk goes to disk as soon as it is whole; a cut loses at most the chunk
  in progress (and the next resume asks the server for it again);
- finish: the final chunk, fsync. The photo's SHA-256 is then checked over its
  decrypted bytes before it is renamed into the case folder and recorded.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from kycdesk.core.ids import new_id
from kycdesk.paths import DataPaths, ensure_private_dir
from kycdesk.persistence.encrypted_files import (
    TamperedDataError,
    decrypted_sha256,
    photo_context,
    plain_size,
    read_prefix,
)
from kycdesk.persistence.files import fsync_dir, unlink_quietly
from kycdesk.security.streams import CHUNK_BYTES, HEADER_BYTES, TAG_BYTES, EncryptingWriter
from kycdesk.security.vault import Vault

_MAGIC = ((b"\xff\xd8\xff", "jpg"), (b"\x89PNG", "png"), (b"RIFF", "webp"))


class EncryptedPhoto:
    """A stored photo as the upload reads it (`sync.photo_files.PhotoSource`)."""

    def __init__(self, vault: Vault, path: Path, case_id: str) -> None:
        self._vault = vault
        self._path = path
        self._context = photo_context(case_id)
        self.name = path.name

    def size(self) -> int:
        try:
            return plain_size(self._path)
        except TamperedDataError:
            return -1  # not one of our photo files: no size matches it

    def read_from(self, offset: int) -> Iterator[bytes]:
        with self._path.open("rb") as src:
            yield from self._vault.decrypt_from(src, self._context, offset)


class EncryptedDownload:
    """One pulled photo's partial file (`sync.photo_files.PhotoDownload`)."""

    def __init__(self, vault: Vault, paths: DataPaths, case_id: str,
                 client_image_id: str) -> None:
        self._vault = vault
        self._paths = paths
        self._case_id = case_id
        self._client_image_id = client_image_id
        self._context = photo_context(case_id)
        self.part = paths.partial_download(case_id, client_image_id)
        self._file: BinaryIO | None = None
        self._writer: EncryptingWriter | None = None

    def kept(self) -> int:
        try:
            body = self.part.stat().st_size - HEADER_BYTES
        except OSError:
            return 0
        return max(0, body // (CHUNK_BYTES + TAG_BYTES)) * CHUNK_BYTES

    def whole_sha256(self) -> tuple[str, int] | None:
        try:
            return decrypted_sha256(self._vault, self.part, self._context)
        except (OSError, TamperedDataError):
            return None

    def _start(self, prefix: Iterator[bytes]) -> int:
        """A fresh encrypted file holding `prefix`, renamed over the partial file."""
        ensure_private_dir(self.part.parent)
        tmp = self.part.with_name(f".{self.part.name}.{new_id()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                     0o600)
        handle = os.fdopen(fd, "wb")
        kept = 0
        try:
            writer = self._vault.encrypting_writer(handle, self._context)
            for chunk in prefix:
                writer.write(chunk)
                kept += len(chunk)
            handle.flush()
            tmp.replace(self.part)
        except BaseException:
            handle.close()
            unlink_quietly(tmp)
            raise
        self._file, self._writer = handle, writer
        return kept

    def resume(self) -> int:
        self.close()
        return self._start(read_prefix(self._vault, self.part, self._context))

    def restart(self) -> None:
        self.close()
        self._start(iter(()))

    def write(self, data: bytes) -> None:
        if self._writer is None:
            raise ValueError("the download is not open")
        self._writer.write(data)

    def finish(self) -> None:
        if self._writer is None or self._file is None:
            raise ValueError("the download is not open")
        self._writer.close()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._file = self._writer = None

    def close(self) -> None:
        if self._file is not None:
            self._file.close()  # complete chunks are written; no final chunk: resumable
        self._file = self._writer = None

    def discard(self) -> None:
        self.close()
        unlink_quietly(self.part)

    def _extension(self) -> str:
        """The photo's kind from its first decrypted bytes (the name it is kept under)."""
        with self.part.open("rb") as src:
            head = next(iter(self._vault.decrypt_from(src, self._context, 0)), b"")[:12]
        for magic, extension in _MAGIC:
            if head.startswith(magic):
                return extension
        return "heic" if head[4:12] in (b"ftypheic", b"ftypmif1") else "img"

    def move_into_case(self) -> Path:
        final = self._paths.pulled_photo(self._case_id, self._client_image_id,
                                         self._extension())
        ensure_private_dir(final.parent)
        self.part.replace(final)  # same file system: the data folder
        fsync_dir(final.parent)
        fsync_dir(self.part.parent)
        return final
