"""Files (photos, thumbnails, exports) encrypted as a stream of chunks, so a 5 MB photo
is never held whole in memory and a corrupt tail is found without trusting the rest.

    header = "KYCF" ‖ version(1) ‖ key id(8) ‖ salt(16) ‖ nonce prefix(7) ‖ chunk size(4)
    body   = chunk₀ ‖ chunk₁ ‖ … ‖ chunkₙ   each = AES-256-GCM(plaintext ≤ chunk size) ‖ tag

This is the STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár 2015; the shape of
Tink's AES-GCM-HKDF streaming AEAD):
- each file has its own key, HKDF-SHA256(data key, salt), so nonces never meet those of
  another file, whatever the count of files;
- chunk i's nonce is prefix ‖ i(4) ‖ final(1): unique within the file by construction;
- chunk i's associated data is header ‖ caller's context ‖ i ‖ final: a chunk moved to
  another position or another file (or another case, via the context) does not open, a
  file cut at a chunk boundary lacks its final chunk, and bytes after the final chunk
  are refused.

`decrypt_chunks` yields plaintext as each chunk is authenticated; a truncation shows only
at the end, so a caller keeps what it received provisional (a temp file, a buffer) until
the iterator finishes without `TamperedDataError`.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kycdesk.security.errors import TamperedDataError
from kycdesk.security.keys import KEY_BYTES, KEY_ID_BYTES, SALT_BYTES, DataKey, UnlockedKeys

MAGIC = b"KYCF"
STREAM_VERSION = 1
NONCE_PREFIX_BYTES = 7
CHUNK_BYTES = 64 * 1024
TAG_BYTES = 16
MAX_CHUNKS = 2**32
_HEADER = struct.Struct(f">4sB{KEY_ID_BYTES}s{SALT_BYTES}s{NONCE_PREFIX_BYTES}sI")
HEADER_BYTES = _HEADER.size
_LABEL = b"kycdesk/file/v1"


def _file_aead(key: DataKey, salt: bytes) -> AESGCM:
    file_key = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=salt,
                    info=_LABEL).derive(key.secret)
    return AESGCM(file_key)


def _chunk_nonce_and_aad(prefix: bytes, header: bytes, context: bytes, index: int,
                         final: bool) -> tuple[bytes, bytes]:
    position = struct.pack(">IB", index, 1 if final else 0)
    return prefix + position, header + struct.pack(">I", len(context)) + context + position


def encrypted_size(plain_size: int, chunk_bytes: int = CHUNK_BYTES) -> int:
    """Bytes on disk for a file of `plain_size` (an empty file is one empty final chunk)."""
    chunks = max(1, -(-plain_size // chunk_bytes))
    return HEADER_BYTES + plain_size + chunks * TAG_BYTES


class EncryptingWriter:
    """Write plaintext as it comes (a camera frame, a download); ciphertext goes to `out`.
    `close()` writes the final chunk; a writer dropped without `close()` leaves a file
    that never opens (no final chunk), which is what an interrupted capture should be."""

    def __init__(self, out: BinaryIO, key: DataKey, context: bytes,
                 chunk_bytes: int = CHUNK_BYTES) -> None:
        if not 1 <= chunk_bytes <= 2**24:
            raise ValueError("chunk size out of range")
        self._out = out
        self._context = context
        self._chunk_bytes = chunk_bytes
        self._prefix = os.urandom(NONCE_PREFIX_BYTES)
        salt = os.urandom(SALT_BYTES)
        self._header = _HEADER.pack(MAGIC, STREAM_VERSION, key.key_id, salt, self._prefix,
                                    chunk_bytes)
        self._aead = _file_aead(key, salt)
        self._pending = bytearray()
        self._index = 0
        self._closed = False
        out.write(self._header)

    def _emit(self, plain: bytes | memoryview, final: bool) -> None:
        if self._index >= MAX_CHUNKS:
            raise ValueError("file too large for one encrypted stream")
        nonce, aad = _chunk_nonce_and_aad(self._prefix, self._header, self._context,
                                          self._index, final)
        self._out.write(self._aead.encrypt(nonce, plain, aad))
        self._index += 1

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closed:
            raise ValueError("write to a closed encrypted stream")
        # Keep at least one byte back: the last chunk must be the one flagged final. A
        # large write (a whole photo) is encrypted from views of it, without copies.
        view = memoryview(data).cast("B")
        if self._pending:
            room = self._chunk_bytes - len(self._pending)
            self._pending += view[:room]
            view = view[room:]
            if not view:
                return  # a full chunk may still be the final one
            self._emit(bytes(self._pending), final=False)
            self._pending.clear()
        while len(view) > self._chunk_bytes:
            self._emit(view[:self._chunk_bytes], final=False)
            view = view[self._chunk_bytes:]
        self._pending += view

    def close(self) -> None:
        if not self._closed:
            self._emit(bytes(self._pending), final=True)
            self._pending.clear()
            self._closed = True


def encrypt_stream(src: BinaryIO, out: BinaryIO, key: DataKey, context: bytes,
                   chunk_bytes: int = CHUNK_BYTES) -> int:
    """Encrypt all of `src` into `out`; returns the plaintext size."""
    writer = EncryptingWriter(out, key, context, chunk_bytes)
    total = 0
    while block := src.read(chunk_bytes):
        writer.write(block)
        total += len(block)
    writer.close()
    return total


def _read_exact(src: BinaryIO, size: int) -> bytes:
    parts: list[bytes] = []
    remaining = size
    while remaining:
        part = src.read(remaining)
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)


def read_key_id(src: BinaryIO) -> bytes:
    """The key a file was encrypted under (reads the header; leaves `src` after it)."""
    return _read_header(src)[1]


def _read_header(src: BinaryIO) -> tuple[bytes, bytes, bytes, bytes, int]:
    header = _read_exact(src, HEADER_BYTES)
    if len(header) != HEADER_BYTES:
        raise TamperedDataError("This file is cut short.")
    magic, version, key_id, salt, prefix, chunk_bytes = _HEADER.unpack(header)
    if magic != MAGIC or version != STREAM_VERSION:
        raise TamperedDataError("This is not an encrypted kycdesk file.")
    if not 1 <= chunk_bytes <= 2**24:
        raise TamperedDataError("This file's header was changed.")
    return header, bytes(key_id), bytes(salt), bytes(prefix), int(chunk_bytes)


def _chunks_from(src: BinaryIO, aead: AESGCM, *, header: bytes, prefix: bytes,
                 context: bytes, chunk_bytes: int, index: int) -> Iterator[bytes]:
    block_bytes = chunk_bytes + TAG_BYTES
    block = _read_exact(src, block_bytes)
    while True:
        # A block is the final chunk exactly when nothing follows it.
        following = _read_exact(src, block_bytes) if len(block) == block_bytes else b""
        final = not following
        if len(block) < TAG_BYTES or (not final and len(block) != block_bytes):
            raise TamperedDataError("This file is cut short.")
        nonce, aad = _chunk_nonce_and_aad(prefix, header, context, index, final)
        try:
            yield aead.decrypt(nonce, block, aad)
        except InvalidTag:
            raise TamperedDataError("This file was changed, cut short or reordered.") from None
        if final:
            return
        block = following
        index += 1


def decrypt_chunks(src: BinaryIO, keys: UnlockedKeys, context: bytes) -> Iterator[bytes]:
    """Plaintext chunk by chunk; raises `TamperedDataError` on any change, cut or
    reordering (see the module docstring on keeping output provisional until the end)."""
    header, key_id, salt, prefix, chunk_bytes = _read_header(src)
    aead = _file_aead(keys.get(key_id), salt)
    yield from _chunks_from(src, aead, header=header, prefix=prefix, context=context,
                            chunk_bytes=chunk_bytes, index=0)


def plaintext_size(src: BinaryIO) -> int:
    """The size of the clear file, from the encrypted one's length and header (what an
    upload declares); `src` must be seekable. Not authenticated until read."""
    header = _read_header(src)
    chunk_bytes = header[4]
    body = src.seek(0, os.SEEK_END) - HEADER_BYTES
    blocks = max(1, -(-body // (chunk_bytes + TAG_BYTES)))
    size = body - blocks * TAG_BYTES
    if size < 0:
        raise TamperedDataError("This file is cut short.")
    return size


def decrypt_from(src: BinaryIO, keys: UnlockedKeys, context: bytes,
                 offset: int) -> Iterator[bytes]:
    """Plaintext from `offset` to the end, reading only the chunks from the one holding
    `offset` (a resumed upload, a seek): chunks are independent, so this is a seek. Every
    chunk read is authenticated with its index, and the end with its final flag."""
    size = plaintext_size(src)
    if not 0 <= offset <= size:
        raise ValueError(f"offset {offset} outside the file's {size} bytes")
    src.seek(0)
    header, key_id, salt, prefix, chunk_bytes = _read_header(src)
    aead = _file_aead(keys.get(key_id), salt)
    last_index = max(0, -(-size // chunk_bytes) - 1)
    index = min(offset // chunk_bytes, last_index)
    src.seek(HEADER_BYTES + index * (chunk_bytes + TAG_BYTES))
    skip = offset - index * chunk_bytes
    chunks = _chunks_from(src, aead, header=header, prefix=prefix, context=context,
                          chunk_bytes=chunk_bytes, index=index)
    # Only the first chunk starts before `offset` (skip < one chunk, or = one chunk
    # when `offset` is the end of a file of whole chunks).
    yield next(chunks)[skip:]
    yield from chunks


def complete_chunks(src: BinaryIO, keys: UnlockedKeys, context: bytes) -> Iterator[bytes]:
    """The plaintext of an UNFINISHED file's complete chunks (a download cut short): each
    whole block is authenticated as a non-final chunk at its index; the walk stops at the
    first block that is torn, damaged or final. What a resumed download keeps: it is
    re-encrypted into a fresh file (new salt and nonce prefix), so no nonce is ever used
    twice, whatever the torn chunk held. A file without a whole header yields nothing."""
    try:
        header, key_id, salt, prefix, chunk_bytes = _read_header(src)
    except TamperedDataError:
        return
    aead = _file_aead(keys.get(key_id), salt)
    block_bytes = chunk_bytes + TAG_BYTES
    index = 0
    while len(block := _read_exact(src, block_bytes)) == block_bytes:
        nonce, aad = _chunk_nonce_and_aad(prefix, header, context, index, False)
        try:
            yield aead.decrypt(nonce, block, aad)
        except InvalidTag:
            return
        index += 1


def decrypt_stream(src: BinaryIO, out: BinaryIO, keys: UnlockedKeys, context: bytes) -> int:
    """Decrypt all of `src` into `out`; returns the plaintext size. On `TamperedDataError`,
    what `out` received must be discarded."""
    total = 0
    for plain in decrypt_chunks(src, keys, context):
        out.write(plain)
        total += len(plain)
    return total
