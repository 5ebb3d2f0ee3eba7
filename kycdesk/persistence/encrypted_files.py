"""Photo-bearing files on the device, encrypted under the verifier's vault: the one way
to write them (durably) and to read them back (into memory, never a clear file).

Every photo, thumbnail, camera capture, archive photo in flight and download is an
encrypted stream (`security.streams`, docs/security.md "Files"); its *context* says
what it is and whose, so a file presented as another case's photo, or a thumbnail as
a photo, does not open:

    photo: cases/<case>/img_<n>.*, pulled_<id>.*, downloads/*.part
                                               file_context(case, "photo")
    thumbnail: cases/<case>/thumbs/*           file_context(case, "thumbnail")
    capture in flight: captures/*              file_context(@device, "capture")

A download is written under the photo context, so the verified file is renamed into the
case folder as it is (no second encryption). The SHA-256 and size recorded for a photo
are those of its PLAINTEXT (what the office receives and checks); on disk neither
appears. Durability is the store's usual: temp name (O_EXCL, owner-only), fsync,
rename, fsync of the folder, then the row.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType

from kycdesk.core.ids import new_id
from kycdesk.persistence.files import fsync_dir, rename_no_clobber, unlink_quietly
from kycdesk.security.errors import TamperedDataError
from kycdesk.security.streams import complete_chunks, plaintext_size
from kycdesk.security.vault import DEVICE_SCOPE, Vault, file_context

READ_BLOCK = 1024 * 1024
CAPTURE_CONTEXT = file_context(DEVICE_SCOPE, "capture")

__all__ = ["CAPTURE_CONTEXT", "EncryptedFileWriter", "TamperedDataError", "decrypted_chunks",
           "decrypted_sha256",
           "is_complete", "photo_context", "plain_size", "read_decrypted", "read_prefix",
           "thumbnail_context", "write_encrypted"]


def photo_context(case_id: str) -> bytes:
    return file_context(case_id, "photo")


def thumbnail_context(case_id: str) -> bytes:
    return file_context(case_id, "thumbnail")


def _open_new(path: Path) -> int:
    # O_EXCL: a fresh name; never write through an existing file or link. Owner-only.
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                   0o600)


class EncryptedFileWriter:
    """Plaintext in, ciphertext to a NEW file at `path`; the SHA-256 and size of the
    plaintext are counted on the way. `finish()` writes the final chunk and fsyncs (the
    caller renames and records); leaving the block without `finish()` removes the file.

        with EncryptedFileWriter(vault, tmp, photo_context(case)) as out:
            out.write(data)
            sha256, size = out.finish()
    """

    def __init__(self, vault: Vault, path: Path, context: bytes, *,
                 hashing: bool = True) -> None:
        self.path = path
        self._fd = _open_new(path)
        self._file = os.fdopen(self._fd, "wb", closefd=True)
        try:
            self._writer = vault.encrypting_writer(self._file, context)
        except BaseException:
            self._file.close()
            unlink_quietly(path)
            raise
        # The caller may hash already (an import hashes while it walks the photo).
        self._digest = hashlib.sha256() if hashing else None
        self.size = 0
        self._finished = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._digest is not None:
            self._digest.update(data)
        self._writer.write(data)
        self.size += len(data)

    def finish(self, *, durable: bool = True) -> tuple[str, int]:
        """Final chunk, flush, fsync (not for a cache: `durable=False`); the plaintext's
        SHA-256 (hex; "" when not `hashing`) and size."""
        self._writer.close()
        self._file.flush()
        if durable:
            os.fsync(self._file.fileno())
        self._file.close()
        self._finished = True
        return (self._digest.hexdigest() if self._digest is not None else ""), self.size

    def abort(self) -> None:
        if not self._file.closed:
            self._file.close()
        unlink_quietly(self.path)

    def __enter__(self) -> EncryptedFileWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if not self._finished:
            self.abort()


def write_encrypted(vault: Vault, target: Path, context: bytes,
                    data: bytes | Iterable[bytes], *, replace: bool = False,
                    durable: bool = True) -> tuple[str, int]:
    """`target` holds `data`, encrypted, or is untouched: temp name beside it, fsync,
    rename (over an existing file only with `replace`: a cache such as a thumbnail),
    fsync of the folder. A cache (a thumbnail) passes `durable=False`: renamed whole
    but not fsynced — a crash may lose it, never show half of it (it is rebuilt from
    the photo). Returns the plaintext's SHA-256 and size."""
    tmp = target.with_name(f".{target.name}.{new_id()}.tmp")
    with EncryptedFileWriter(vault, tmp, context) as out:
        for piece in ([data] if isinstance(data, bytes | bytearray) else data):
            out.write(piece)
        result = out.finish(durable=durable)
    try:
        if replace:
            tmp.replace(target)
        else:
            rename_no_clobber(tmp, target)
    except BaseException:
        unlink_quietly(tmp)
        raise
    if durable:
        fsync_dir(target.parent)
    return result


def decrypted_chunks(vault: Vault, path: Path, context: bytes) -> Iterator[bytes]:
    """Plaintext chunk by chunk (authenticated; `TamperedDataError` at a change or cut,
    which may come after earlier chunks: keep what came provisional)."""
    with path.open("rb") as src:
        yield from vault.decrypt_chunks(src, context)


def read_decrypted(vault: Vault, path: Path, context: bytes) -> bytes:
    """A whole photo or thumbnail in memory (a 5 MB photo is 5 MB), authenticated to
    its end. Raises OSError (missing) or TamperedDataError (changed, cut, not ours)."""
    return b"".join(decrypted_chunks(vault, path, context))


def decrypted_sha256(vault: Vault, path: Path, context: bytes) -> tuple[str, int]:
    """The plaintext's SHA-256 (hex) and size, read chunk by chunk (bounded memory)."""
    digest = hashlib.sha256()
    size = 0
    for chunk in decrypted_chunks(vault, path, context):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def is_complete(vault: Vault, path: Path, context: bytes) -> bool:
    """Does the file open to its final chunk? (An interrupted capture never does.)"""
    try:
        for _chunk in decrypted_chunks(vault, path, context):
            pass
    except (OSError, TamperedDataError):
        return False
    return True


def plain_size(path: Path) -> int:
    """The plaintext size from the file's length and header (not authenticated: what
    an upload declares and a size check compares; the hash check reads it all)."""
    with path.open("rb") as src:
        return plaintext_size(src)


def read_prefix(vault: Vault, path: Path, context: bytes) -> Iterator[bytes]:
    """The authenticated plaintext of an unfinished file's complete chunks (a partial
    download): where a resume starts (`streams.complete_chunks`)."""
    try:
        src = path.open("rb")
    except FileNotFoundError:
        return
    with src:
        yield from complete_chunks(src, vault.keys, context)
