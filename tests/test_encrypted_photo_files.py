"""Photo-bearing files under the vault (issue 18, "Files"): the write/read helpers, the
captures folder's startup recovery, a download resumed from a partial encrypted file,
and an upload resumed at an offset inside a chunk against the real server."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import pytest

from kycdesk.paths import DataPaths
from kycdesk.persistence.captures import recover_captures, write_capture
from kycdesk.persistence.encrypted_files import (
    CAPTURE_CONTEXT,
    EncryptedFileWriter,
    TamperedDataError,
    decrypted_sha256,
    photo_context,
    read_decrypted,
    thumbnail_context,
    write_encrypted,
)
from kycdesk.persistence.photo_io import EncryptedDownload, EncryptedPhoto
from kycdesk.persistence.store import LocalStore
from kycdesk.security.keys import DataKey, UnlockedKeys
from kycdesk.security.streams import CHUNK_BYTES
from kycdesk.security.vault import Vault
from kycdesk.sync.client import SyncClient
from tests.sync_support import TOKEN, ServerHandle

CASE = "3f2b8c1e-4a5d-4e6f-8a7b-9c0d1e2f3a4b"
OTHER_CASE = "0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d"


def _vault() -> Vault:
    key = DataKey.create()
    return Vault(UnlockedKeys("v-test", key, {key.key_id: key}))


def _jpeg_like(size: int, seed: int = 1) -> bytes:
    """A JPEG's start and end around random bytes: the signatures a disk reader greps."""
    body = random_bytes(size - 4, seed)
    return b"\xff\xd8\xff\xe0" + body[:-2] + b"\xff\xd9"


def _shows(raw: bytes, photo: bytes) -> bool:
    """Does any of the photo's plaintext appear in `raw`? (Its first 16 bytes, with the
    JPEG signature, and a 32-byte stretch of each 64 KiB chunk: a 2-byte signature alone
    occurs by chance in random ciphertext.)"""
    probes = [photo[:16]] + [photo[i:i + 32] for i in range(1000, len(photo) - 32, CHUNK_BYTES)]
    return any(probe in raw for probe in probes)


def random_bytes(size: int, seed: int) -> bytes:
    import random

    return random.Random(seed).randbytes(size)


def test_a_written_photo_reads_back_only_in_its_place(tmp_path: Path) -> None:
    vault = _vault()
    photo = _jpeg_like(300_000)
    target = tmp_path / "img_1.jpg"
    sha256, size = write_encrypted(vault, target, photo_context(CASE), photo)
    assert (sha256, size) == (hashlib.sha256(photo).hexdigest(), len(photo))
    raw = target.read_bytes()
    assert not _shows(raw, photo)
    assert hashlib.sha256(photo).hexdigest().encode() not in raw
    assert read_decrypted(vault, target, photo_context(CASE)) == photo
    assert decrypted_sha256(vault, target, photo_context(CASE)) == (sha256, size)
    for wrong in (photo_context(OTHER_CASE), thumbnail_context(CASE)):
        with pytest.raises(TamperedDataError):
            read_decrypted(vault, target, wrong)
    with pytest.raises(TamperedDataError):  # another verifier's keys
        read_decrypted(_vault(), target, photo_context(CASE))
    assert [p.name for p in tmp_path.iterdir()] == ["img_1.jpg"]  # no temp file left
    if os.name == "posix":
        assert target.stat().st_mode & 0o077 == 0


def test_a_writer_left_without_finish_leaves_no_file(tmp_path: Path) -> None:
    target = tmp_path / "x.tmp"
    with pytest.raises(RuntimeError), EncryptedFileWriter(_vault(), target, CAPTURE_CONTEXT) as out:
        out.write(b"\xff\xd8" * 100_000)
        raise RuntimeError("power cut")
    assert not target.exists()


def test_startup_keeps_a_complete_capture_and_removes_an_interrupted_one(
        tmp_path: Path) -> None:
    vault = _vault()
    paths = DataPaths(root=tmp_path / "data", log_dir=tmp_path / "logs")
    complete = write_capture(vault, paths.captures_dir, CASE, _jpeg_like(200_000))
    # An interrupted capture: chunks written, the final one never (a killed process).
    interrupted = paths.captures_dir / f"{CASE}.{uuid.uuid4().hex}.capture"
    with interrupted.open("wb") as raw:
        writer = vault.encrypting_writer(raw, CAPTURE_CONTEXT)
        writer.write(_jpeg_like(200_000, seed=2))  # never closed
    scratch = paths.captures_dir / "import-abc"
    scratch.mkdir()
    write_capture(vault, scratch, CASE, b"\xff\xd8 archive photo \xff\xd9")
    moved: list[tuple[str, str]] = []
    removed: list[str] = []
    recover_captures(paths, vault, moved, removed)
    kept = paths.lost_and_found / CASE / complete.name
    assert moved == [(paths.relative(complete), paths.relative(kept))]
    assert sorted(removed) == sorted([paths.relative(interrupted), paths.relative(scratch)])
    assert list(paths.captures_dir.iterdir()) == []
    assert read_decrypted(vault, kept, CAPTURE_CONTEXT) == _jpeg_like(200_000)
    assert not _shows(kept.read_bytes(), _jpeg_like(200_000))


def test_a_download_resumes_after_the_complete_chunks_of_its_partial_file(
        tmp_path: Path) -> None:
    vault = _vault()
    paths = DataPaths(root=tmp_path / "data", log_dir=tmp_path / "logs")
    photo = _jpeg_like(5 * CHUNK_BYTES + 1234)
    download = EncryptedDownload(vault, paths, CASE, "pulled-1")
    assert download.resume() == 0
    cut = 2 * CHUNK_BYTES + 5000  # the link broke inside the third chunk
    download.write(photo[:cut])
    download.close()
    assert download.whole_sha256() is None  # cut short: not whole
    assert not _shows(download.part.read_bytes(), photo)
    again = EncryptedDownload(vault, paths, CASE, "pulled-1")
    assert again.kept() == 2 * CHUNK_BYTES
    kept = again.resume()
    assert kept == 2 * CHUNK_BYTES  # the torn chunk's bytes are asked for again
    again.write(photo[kept:])
    again.finish()
    assert again.whole_sha256() == (hashlib.sha256(photo).hexdigest(), len(photo))
    final = again.move_into_case()
    assert final == paths.pulled_photo(CASE, "pulled-1", "jpg")
    assert read_decrypted(vault, final, photo_context(CASE)) == photo
    assert list(paths.downloads_dir.iterdir()) == []


def test_a_damaged_partial_download_resumes_from_before_the_damage(tmp_path: Path) -> None:
    vault = _vault()
    paths = DataPaths(root=tmp_path / "data", log_dir=tmp_path / "logs")
    photo = _jpeg_like(4 * CHUNK_BYTES)
    download = EncryptedDownload(vault, paths, CASE, "pulled-2")
    download.resume()
    download.write(photo[:3 * CHUNK_BYTES + 10])
    download.close()
    raw = bytearray(download.part.read_bytes())
    raw[60 + CHUNK_BYTES] ^= 1  # a byte of the second chunk changed on disk
    download.part.write_bytes(bytes(raw))
    assert download.resume() == CHUNK_BYTES  # only what still authenticates is kept
    download.discard()
    assert not download.part.exists()


def test_an_upload_resumed_inside_a_chunk_delivers_the_exact_bytes(
        tmp_path: Path, server: ServerHandle) -> None:
    """tus resume at an offset that is not a chunk boundary: decryption starts at the
    chunk holding it; the server's SHA-256 over the whole upload confirms the bytes."""
    vault = _vault()
    photo = _jpeg_like(3 * CHUNK_BYTES + 777, seed=9)
    stored = tmp_path / "cases" / CASE / "img_1.jpg"
    stored.parent.mkdir(parents=True)
    write_encrypted(vault, stored, photo_context(CASE), photo)
    source = EncryptedPhoto(vault, stored, CASE)
    assert source.size() == len(photo)
    digest = hashlib.sha256(photo).hexdigest()
    first = CHUNK_BYTES + 4321  # the cut: inside the second chunk
    with SyncClient(server.base_url, TOKEN, device_id="device-files-1") as client:
        upload = client.create_upload(CASE, str(uuid.uuid4()), sha256=digest,
                                      byte_size=len(photo))
        state = client.append(upload.url, source, offset=0, count=first)
        assert state.offset == first and not state.complete
        state = client.append(upload.url, source, offset=first, count=len(photo) - first)
    assert state.complete and state.sha256 == digest


def _signatures(photos: list[bytes]) -> dict[str, bytes]:
    """What a disk reader would grep for: each photo's opening bytes (the JPEG/PNG
    signature and header), a stretch from its middle, its SHA-256 in hex and raw, and
    the generic markers JFIF/Exif/PNG (long enough not to occur by chance)."""
    found = {"PNG signature": b"\x89PNG\r\n\x1a\n", "JFIF": b"JFIF\x00", "Exif": b"Exif\x00\x00",
             "IEND": b"IEND\xaeB`\x82"}
    for n, data in enumerate(photos):
        digest = hashlib.sha256(data)
        found[f"photo {n} start"] = data[:12]
        found[f"photo {n} middle"] = data[len(data) // 2:len(data) // 2 + 24]
        found[f"photo {n} sha256 hex"] = digest.hexdigest().encode()
        found[f"photo {n} sha256 raw"] = digest.digest()
    return found


def test_no_photo_shows_in_any_file_of_the_data_folder(
        qapp: object, store: LocalStore, jpeg: Path, tmp_path: Path) -> None:
    """After an import (JPEG and PNG, with the thumbnails they make), a camera capture
    (encrypted into captures/, imported, removed), a pulled photo (downloaded in two
    goes) and a thumbnail rebuilt cold: no file of the data folder shows any of the
    photos' bytes, signatures or SHA-256 — the database and its WAL included (the
    photos' SHA-256 are sealed columns there: docs/security.md "Store wiring")."""
    from PySide6.QtGui import QColor, QImage

    from kycdesk.persistence.commands import AddImage, ApplyPull, CreateCase, RecordFetchedPhoto
    from kycdesk.persistence.thumbnails import load_thumbnail, thumbnail_file
    from tests.pull_pages import Feed, new_case_id, photo

    png = tmp_path / "scan.png"
    picture = QImage(320, 200, QImage.Format.Format_RGB32)
    picture.fill(QColor("white"))
    assert picture.save(str(png))
    camera_photo = _jpeg_from(tmp_path / "camera.jpg", seed=5)
    office_photo = _jpeg_from(tmp_path / "office.jpg", seed=6)

    case_id = store.run(CreateCase())
    imported = store.run(AddImage(case_id, jpeg, slot="id_front"))
    store.run(AddImage(case_id, png, slot="proof_of_address"))
    capture = write_capture(store.vault, store.paths.captures_dir, case_id,
                            camera_photo.read_bytes())
    store.run(AddImage(case_id, capture, slot="selfie", origin="camera", remove_source=True,
                       source_context=CAPTURE_CONTEXT))
    assert not capture.exists()

    content = office_photo.read_bytes()
    feed, pulled_case, shot = Feed(), new_case_id(), photo("id_front", content)
    store.run(ApplyPull(feed.page(feed.change(
        "handover_in", pulled_case, revision=1, reference_number="KYC-F",
        form_id="individual_kyc", form_version="3", form={}, photos=[shot]))))
    download = store.photo_download(pulled_case, shot["client_image_id"])
    download.resume()
    download.write(content[:len(content) // 2])
    download.close()  # the link broke
    again = store.photo_download(pulled_case, shot["client_image_id"])
    kept = again.resume()
    again.write(content[kept:])
    again.finish()
    assert again.whole_sha256() == (shot["sha256"], len(content))
    store.run(RecordFetchedPhoto(pulled_case, shot["client_image_id"], again.move_into_case()))

    stored = store.paths.absolute(imported.file_path)
    thumbnail_file(stored).unlink()
    assert not load_thumbnail(store.vault, stored, 160).isNull()  # rebuilt, encrypted
    assert thumbnail_file(stored).is_file()

    secrets = _signatures([jpeg.read_bytes(), png.read_bytes(), camera_photo.read_bytes(),
                           content])
    hits = []
    files = sorted(p for p in store.paths.root.rglob("*") if p.is_file())
    assert any(f.name.startswith(store.paths.database.name) for f in files)
    assert any(f.name.startswith("img_") for f in files)
    assert any(f.parent.name == "thumbs" for f in files)
    assert any(f.name.startswith("pulled_") for f in files)
    for file in files:
        raw = file.read_bytes()
        hits += [(store.paths.relative(file), name) for name, probe in secrets.items()
                 if probe in raw]
    assert hits == []
    assert len(store.list_images(case_id)) == 3 and len(store.list_images(pulled_case)) == 1


def _jpeg_from(path: Path, seed: int) -> Path:
    from kycdesk.demo import render_photo

    render_photo(path, label="ID", subtitle="files test", seed=seed, size=(900, 600))
    return path
