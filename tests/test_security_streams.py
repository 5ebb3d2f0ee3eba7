"""Chunked file encryption (kycdesk/security/streams.py) on real files: round trips at
chunk boundaries, tampering, truncation, reordering, splicing between files and cases
detected; memory stays bounded for a large file."""

from __future__ import annotations

import hashlib
import os
import tracemalloc
from pathlib import Path

import pytest

from kycdesk.security import keys as k
from kycdesk.security import streams as s
from kycdesk.security.errors import TamperedDataError

FAST = k.Argon2Params(time_cost=1, memory_kib=1024, parallelism=1)
SMALL = 1024  # small chunks keep the byte-level tests quick; the format is the same
BLOCK = SMALL + s.TAG_BYTES
JPEG_START = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"


@pytest.fixture
def keys() -> k.UnlockedKeys:
    org = k.public_bytes(k.generate_org_recovery_key())
    return k.enrol("amina", "4821 blue heron", org, FAST)[1]


def _encrypt(path: Path, plain: bytes, keys: k.UnlockedKeys, context: bytes = b"c1/img1",
             chunk: int = SMALL) -> Path:
    source = path.with_suffix(".jpg")
    source.write_bytes(plain)
    target = path.with_suffix(".enc")
    with source.open("rb") as src, target.open("wb") as out:
        assert s.encrypt_stream(src, out, keys.current, context, chunk) == len(plain)
    source.unlink()
    return target


def _decrypt(path: Path, keys: k.UnlockedKeys, context: bytes = b"c1/img1") -> bytes:
    out = path.with_suffix(".out")
    with path.open("rb") as src, out.open("wb") as sink:
        s.decrypt_stream(src, sink, keys, context)
    return out.read_bytes()


@pytest.mark.parametrize("size", [0, 1, SMALL - 1, SMALL, SMALL + 1, 3 * SMALL, 5 * SMALL + 7])
def test_round_trip_at_every_chunk_boundary(tmp_path, keys, size):
    plain = JPEG_START + os.urandom(max(0, size - len(JPEG_START)))
    plain = plain[:size]
    enc = _encrypt(tmp_path / "photo", plain, keys)
    assert enc.stat().st_size == s.encrypted_size(size, SMALL)
    assert _decrypt(enc, keys) == plain


def test_the_file_on_disk_has_no_jpeg_signature_or_plain_bytes(tmp_path, keys):
    plain = JPEG_START + os.urandom(20_000)
    enc = _encrypt(tmp_path / "photo", plain, keys)
    raw = enc.read_bytes()
    assert b"\xff\xd8\xff" not in raw and b"JFIF" not in raw
    assert plain[100:132] not in raw
    assert hashlib.sha256(plain).digest() not in raw


def test_the_header_names_the_key(tmp_path, keys):
    enc = _encrypt(tmp_path / "photo", b"x" * 10, keys)
    with enc.open("rb") as src:
        assert s.read_key_id(src) == keys.current.key_id


def _expect_refused(path: Path, raw: bytes, keys: k.UnlockedKeys,
                    context: bytes = b"c1/img1") -> None:
    path.write_bytes(raw)
    with pytest.raises(TamperedDataError):
        _decrypt(path, keys, context)


def test_a_changed_byte_anywhere_is_detected(tmp_path, keys):
    enc = _encrypt(tmp_path / "photo", os.urandom(3 * SMALL + 10), keys)
    good = enc.read_bytes()
    for position in (0, 5, 12, 30, s.HEADER_BYTES - 1, s.HEADER_BYTES, s.HEADER_BYTES + BLOCK,
                     len(good) - 1):
        raw = bytearray(good)
        raw[position] ^= 0x80
        _expect_refused(enc, bytes(raw), keys)


def test_truncation_at_a_chunk_boundary_is_detected(tmp_path, keys):
    enc = _encrypt(tmp_path / "photo", os.urandom(3 * SMALL + 10), keys)
    good = enc.read_bytes()
    for chunks_kept in (0, 1, 2, 3):
        _expect_refused(enc, good[:s.HEADER_BYTES + chunks_kept * BLOCK], keys)
    _expect_refused(enc, good[:-1], keys)
    _expect_refused(enc, good[:s.HEADER_BYTES - 1], keys)


def test_truncation_of_an_exact_multiple_is_detected(tmp_path, keys):
    """A file of exactly 2 chunks cut after the first: the first full block is not final."""
    enc = _encrypt(tmp_path / "photo", os.urandom(2 * SMALL), keys)
    good = enc.read_bytes()
    _expect_refused(enc, good[:s.HEADER_BYTES + BLOCK], keys)


def test_reordered_or_repeated_chunks_are_detected(tmp_path, keys):
    enc = _encrypt(tmp_path / "photo", os.urandom(3 * SMALL + 10), keys)
    good = enc.read_bytes()
    header, body = good[:s.HEADER_BYTES], good[s.HEADER_BYTES:]
    c0, c1, c2, last = (body[:BLOCK], body[BLOCK:2 * BLOCK], body[2 * BLOCK:3 * BLOCK],
                        body[3 * BLOCK:])
    for order in ((c1, c0, c2, last), (c0, c2, c1, last), (c0, c1, c1, c2, last),
                  (c0, c1, c2, last, c2), (c0, c1, c2, last, last)):
        _expect_refused(enc, header + b"".join(order), keys)


def test_bytes_after_the_final_chunk_are_refused(tmp_path, keys):
    enc = _encrypt(tmp_path / "photo", os.urandom(SMALL // 2), keys)
    _expect_refused(enc, enc.read_bytes() + b"\x00" * 40, keys)


def test_chunks_spliced_from_another_file_or_case_are_detected(tmp_path, keys):
    plain = os.urandom(2 * SMALL + 10)
    first = _encrypt(tmp_path / "a", plain, keys).read_bytes()
    second = _encrypt(tmp_path / "b", plain, keys).read_bytes()
    assert first[s.HEADER_BYTES:] != second[s.HEADER_BYTES:]  # a fresh key per file
    spliced = first[:s.HEADER_BYTES + BLOCK] + second[s.HEADER_BYTES + BLOCK:]
    _expect_refused(tmp_path / "spliced.enc", spliced, keys)
    # The whole file, right bytes, but presented as another case's photo.
    _expect_refused(tmp_path / "moved.enc", first, keys, context=b"c2/img1")


def test_an_interrupted_capture_never_opens(tmp_path, keys):
    target = tmp_path / "capture.enc"
    with target.open("wb") as out:
        writer = s.EncryptingWriter(out, keys.current, b"c1/img1", SMALL)
        writer.write(os.urandom(5 * SMALL))
        # the process dies here: no close(), no final chunk
    with pytest.raises(TamperedDataError), target.open("rb") as src:
        b"".join(s.decrypt_chunks(src, keys, b"c1/img1"))


def test_a_file_under_a_rotated_away_key_still_opens(tmp_path, keys):
    org = k.public_bytes(k.generate_org_recovery_key())
    ring, keys = k.enrol("amina", "4821 blue heron", org, FAST)
    enc = _encrypt(tmp_path / "photo", b"before rotation", keys)
    _, rotated = k.rotate_data_key(ring, keys, org)
    assert _decrypt(enc, rotated) == b"before rotation"


def test_memory_stays_bounded_for_a_large_file(tmp_path, keys):
    """48 MiB through encryption and decryption with the default 64 KiB chunks: the peak
    of Python allocations stays within a few chunks, not the file's size."""
    size = 48 * 1024 * 1024
    source = tmp_path / "big.bin"
    with source.open("wb") as out:
        for _ in range(size // (1024 * 1024)):
            out.write(os.urandom(1024 * 1024))
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    enc = tmp_path / "big.enc"
    back = tmp_path / "big.out"
    tracemalloc.start()
    try:
        with source.open("rb") as src, enc.open("wb") as out:
            s.encrypt_stream(src, out, keys.current, b"c1/img1")
        with enc.open("rb") as src, back.open("wb") as out:
            assert s.decrypt_stream(src, out, keys, b"c1/img1") == size
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * s.CHUNK_BYTES, peak  # 1 MiB, against a 48 MiB file
    assert hashlib.sha256(back.read_bytes()).hexdigest() == digest


@pytest.mark.parametrize("size", [0, 1, SMALL, 3 * SMALL, 3 * SMALL + 10])
def test_reading_from_an_offset_matches_the_clear_file(tmp_path, keys, size):
    """A resumed upload starts at its offset: only chunks from there on are read."""
    plain = os.urandom(size)
    enc = _encrypt(tmp_path / "photo", plain, keys)
    with enc.open("rb") as src:
        assert s.plaintext_size(src) == size
    offsets = sorted({0, 1, SMALL - 1, SMALL, SMALL + 1, 2 * SMALL + 5, size - 1, size})
    for offset in (o for o in offsets if 0 <= o <= size):
        with enc.open("rb") as src:
            assert b"".join(s.decrypt_from(src, keys, b"c1/img1", offset)) == plain[offset:]
    with enc.open("rb") as src, pytest.raises(ValueError):
        b"".join(s.decrypt_from(src, keys, b"c1/img1", size + 1))


def test_reading_from_an_offset_still_detects_a_cut_or_a_change(tmp_path, keys):
    enc = _encrypt(tmp_path / "photo", os.urandom(3 * SMALL + 10), keys)
    good = enc.read_bytes()
    cut = tmp_path / "cut.enc"
    cut.write_bytes(good[:s.HEADER_BYTES + 3 * BLOCK])  # the short final chunk is gone
    with cut.open("rb") as src, pytest.raises(TamperedDataError):
        b"".join(s.decrypt_from(src, keys, b"c1/img1", SMALL + 3))
    changed = bytearray(good)
    changed[s.HEADER_BYTES + 2 * BLOCK + 7] ^= 1
    enc.write_bytes(bytes(changed))
    with enc.open("rb") as src, pytest.raises(TamperedDataError):
        b"".join(s.decrypt_from(src, keys, b"c1/img1", 2 * SMALL))
    # Before the changed chunk, the same file reads (chunks are independent).
    with enc.open("rb") as src:
        chunks = s.decrypt_from(src, keys, b"c1/img1", 0)
        assert len(next(chunks)) == SMALL
