"""The image store: atomic, hashed, validated imports and crash-safe deletes."""

from __future__ import annotations

import hashlib
import stat
import struct
from pathlib import Path

import pytest
from PySide6.QtGui import QColor, QImage

from kycdesk.core.errors import (
    CaseLockedError,
    ImageRejectedError,
    ImageRejectionKind,
    InvalidCaseIdError,
    StorageUnavailableError,
)
from kycdesk.core.records import Location
from kycdesk.models.thumbnails import ThumbnailLoader
from kycdesk.paths import DataPaths
from kycdesk.persistence import events
from kycdesk.persistence.commands import AddImage, AppendEdit, CreateCase, DeleteImage
from kycdesk.persistence.imagecheck import ImageLimits
from kycdesk.persistence.store import LocalStore
from kycdesk.persistence.thumbnails import thumbnail_file
from tests import transitions
from tests.photo_files import stored_bytes, stored_thumbnail
from tests.vaults import make_vault


def _case_files(store: LocalStore, case_id: str) -> list[str]:
    folder = store.paths.case_dir(case_id)
    return sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.exists() else []


def test_import_copies_hashes_and_records_everything(store: LocalStore, jpeg: Path) -> None:
    case_id = store.run(CreateCase())
    where = Location(latitude=51.5074, longitude=-0.1278, accuracy=12.5, address=None)
    image = store.run(AddImage(case_id, jpeg, slot="id_front", location=where,
                            captured_at="2026-11-20T10:00:00Z"))
    stored = store.paths.absolute(image.file_path)
    assert image.file_path == f"cases/{case_id}/img_1.jpg"
    assert stored_bytes(store, image) == jpeg.read_bytes()
    assert not stored.read_bytes().startswith(b"\xff\xd8")  # encrypted on disk
    assert image.sha256 == hashlib.sha256(jpeg.read_bytes()).hexdigest()
    assert image.byte_size == jpeg.stat().st_size
    assert (image.mime, image.width, image.height) == ("image/jpeg", 800, 600)
    # The position as given, named by the offline place finder (issue 22).
    assert image.location == Location(51.5074, -0.1278, 12.5,
                                      "near London, England, United Kingdom",
                                      "nearest place, under 1 km")
    assert image.captured_at == "2026-11-20T10:00:00Z"
    assert image.slot == "id_front" and image.source == "import" and not image.synced
    assert len(image.client_image_id) == 36
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert _case_files(store, case_id) == ["img_1.jpg"]
    kinds = [kind for _, kind, _ in events.list_events(store.conn, case_id)]
    assert kinds == ["created", "image_added"]


def test_png_is_accepted(store: LocalStore, tmp_path: Path) -> None:
    png = tmp_path / "scan.png"
    image = QImage(300, 200, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    assert image.save(str(png))
    record = store.run(AddImage(store.run(CreateCase()), png))
    assert record.mime == "image/png" and record.file_path.endswith("img_1.png")


def test_numbers_never_reuse_a_name_still_held_by_a_row(store: LocalStore, jpeg: Path) -> None:
    case_id = store.run(CreateCase())
    first = store.run(AddImage(case_id, jpeg))
    store.paths.absolute(first.file_path).unlink()  # row without file (damage)
    second = store.run(AddImage(case_id, jpeg))
    assert second.file_path.endswith("img_2.jpg")
    assert store.paths.absolute(first.file_path).exists() is False


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _bad_files(tmp: Path, jpeg: Path) -> dict[str, tuple[Path, ImageRejectionKind]]:
    good = jpeg.read_bytes()
    png = tmp / "ok.png"
    image = QImage(64, 64, QImage.Format.Format_RGB32)
    image.fill(QColor("red"))
    image.save(str(png))
    gif = tmp / "anim.gif"
    gif.write_bytes(b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04"
                    b"\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D"
                    b"\x01\x00;")
    return {
        "empty": (_write(tmp / "empty.jpg", b""), ImageRejectionKind.EMPTY),
        "text renamed .jpg": (_write(tmp / "notes.jpg", b"Dear verifier,\n" * 50),
                              ImageRejectionKind.NOT_AN_IMAGE),
        "truncated jpeg": (_write(tmp / "cut.jpg", good[: len(good) // 2]),
                           ImageRejectionKind.TRUNCATED),
        "truncated png": (_write(tmp / "cut.png", png.read_bytes()[:-20]),
                          ImageRejectionKind.TRUNCATED),
        "gif": (gif, ImageRejectionKind.UNSUPPORTED_FORMAT),
        "folder": (tmp, ImageRejectionKind.UNREADABLE),
        "missing": (tmp / "nope.jpg", ImageRejectionKind.UNREADABLE),
    }


@pytest.mark.parametrize("kind", ["empty", "text renamed .jpg", "truncated jpeg",
                                  "truncated png", "gif", "folder", "missing"])
def test_bad_file_is_rejected_with_message_and_nothing_stored(
        store: LocalStore, jpeg: Path, tmp_path: Path, kind: str) -> None:
    source, expected = _bad_files(tmp_path, jpeg)[kind]
    case_id = store.run(CreateCase())
    store.run(AppendEdit(case_id, "name", "kept"))
    with pytest.raises(ImageRejectedError) as raised:
        store.run(AddImage(case_id, source))
    assert raised.value.kind is expected
    assert str(raised.value)  # a sentence for the verifier
    assert "Traceback" not in str(raised.value)
    assert store.list_images(case_id) == []
    assert _case_files(store, case_id) == []  # no temp file left behind
    assert store.load_case(case_id).form == {"name": "kept"}


def test_over_limit_size_and_pixels_are_rejected(qapp: object, paths: DataPaths,
                                                 jpeg: Path) -> None:
    size = jpeg.stat().st_size
    with LocalStore(paths, image_limits=ImageLimits(max_bytes=size - 1),
                    vault=make_vault()) as small:
        case_id = small.run(CreateCase())
        with pytest.raises(ImageRejectedError, match="limit") as raised:
            small.run(AddImage(case_id, jpeg))
        assert raised.value.kind is ImageRejectionKind.TOO_LARGE
    with LocalStore(paths, image_limits=ImageLimits(max_pixels=800 * 600 - 1),
                    vault=make_vault()) as few:
        with pytest.raises(ImageRejectedError, match="megapixels") as raised:
            few.run(AddImage(case_id, jpeg))
        assert raised.value.kind is ImageRejectionKind.TOO_MANY_PIXELS
        assert few.list_images(case_id) == []


def test_import_refused_when_disk_would_fill(qapp: object, paths: DataPaths,
                                             jpeg: Path) -> None:
    with LocalStore(paths, image_limits=ImageLimits(free_space_reserve=2**62),
                    vault=make_vault()) as store:
        case_id = store.run(CreateCase())
        with pytest.raises(StorageUnavailableError, match="disk space"):
            store.run(AddImage(case_id, jpeg))
        assert store.list_images(case_id) == []


def test_photo_for_bad_case_id_never_builds_a_path(store: LocalStore, jpeg: Path) -> None:
    with pytest.raises(InvalidCaseIdError):
        store.run(AddImage("../../etc", jpeg))
    assert not any(store.paths.root.parent.glob("etc*"))


def test_photos_only_change_in_draft(store: LocalStore, jpeg: Path) -> None:
    case_id = store.run(CreateCase())
    image = store.run(AddImage(case_id, jpeg))
    transitions.submit(store, case_id)
    with pytest.raises(CaseLockedError):
        store.run(AddImage(case_id, jpeg))
    with pytest.raises(CaseLockedError):
        store.run(DeleteImage(case_id, image.id))
    assert _case_files(store, case_id) == ["img_1.jpg"]


def test_delete_removes_row_and_file_and_records_it(store: LocalStore, jpeg: Path) -> None:
    case_id = store.run(CreateCase())
    keep = store.run(AddImage(case_id, jpeg))
    gone = store.run(AddImage(case_id, jpeg))
    store.run(DeleteImage(case_id, gone.id))
    assert [i.id for i in store.list_images(case_id)] == [keep.id]
    assert _case_files(store, case_id) == ["img_1.jpg"]
    deleted = [d for _, kind, d in events.list_events(store.conn, case_id)
               if kind == "image_deleted"]
    assert deleted[0]["client_image_id"] == gone.client_image_id


def test_import_writes_a_thumbnail_and_delete_removes_it(store: LocalStore,
                                                         jpeg: Path) -> None:
    case_id = store.run(CreateCase())
    image = store.run(AddImage(case_id, jpeg))
    thumb = thumbnail_file(store.paths.absolute(image.file_path))
    assert thumb.is_file()
    assert not thumb.read_bytes().startswith(b"\xff\xd8")  # encrypted like the photo
    small = stored_thumbnail(store, store.paths.absolute(image.file_path))
    assert max(small.width(), small.height()) == 320
    store.run(DeleteImage(case_id, image.id))
    assert not thumb.exists()


def test_thumbnail_loader_rebuilds_a_missing_thumbnail(qtbot: object, store: LocalStore,
                                                       jpeg: Path) -> None:
    case_id = store.run(CreateCase())
    image = store.run(AddImage(case_id, jpeg))
    photo = store.paths.absolute(image.file_path)
    thumbnail_file(photo).unlink()
    loader = ThumbnailLoader(store.paths, store.vault, edge=100)
    got: list[QImage] = []
    loader.thumbnailReady.connect(lambda _i, img: got.append(img))
    loader.request(image.id, image.file_path)
    qtbot.waitUntil(lambda: len(got) == 1)  # type: ignore[attr-defined]
    assert max(got[0].width(), got[0].height()) == 100
    assert thumbnail_file(photo).is_file()  # written for next time, off the GUI thread


def test_delete_of_row_whose_file_is_missing_still_works(store: LocalStore,
                                                         jpeg: Path) -> None:
    case_id = store.run(CreateCase())
    image = store.run(AddImage(case_id, jpeg))
    store.paths.absolute(image.file_path).unlink()
    store.run(DeleteImage(case_id, image.id))
    assert store.list_images(case_id) == []


def test_slot_size_policy_stores_a_smaller_copy_that_is_the_evidence(
        store: LocalStore, tmp_path: Path) -> None:
    from tests.exif_builder import with_exif
    from tests.sync_support import noisy_jpeg

    big = noisy_jpeg(tmp_path / "site.jpg", (4000, 3000), opacity=0.3, quality=90)
    located = with_exif(big, tmp_path / "site_gps.jpg", lat=6.5244, lon=3.3792,
                        accuracy=None, taken="2026:11:20 09:00:00", offset="+01:00")
    case_id = store.run(CreateCase())
    image = store.run(AddImage(case_id, located, slot="site", max_pixels=3_000_000))
    stored = store.paths.absolute(image.file_path)
    data = stored_bytes(store, image)
    assert image.width is not None and image.height is not None
    assert image.width * image.height <= 3_000_000
    assert abs(image.width / image.height - 4 / 3) < 0.01
    assert image.sha256 == hashlib.sha256(data).hexdigest()  # the stored copy is what syncs
    assert image.byte_size == len(data) < located.stat().st_size / 2
    assert image.location.latitude == pytest.approx(6.5244, abs=1e-4)  # facts kept
    assert image.captured_at == "2026-11-20T08:00:00.000Z"
    added = [d for _, kind, d in events.list_events(store.conn, case_id)
             if kind == "image_added"]
    assert added[-1]["resized_from"] == [4000, 3000]
    assert not list(stored.parent.glob(".img_*"))  # no temp copy left behind


def test_photos_within_the_slot_policy_and_document_slots_stay_byte_identical(
        store: LocalStore, jpeg: Path) -> None:
    case_id = store.run(CreateCase())
    small = store.run(AddImage(case_id, jpeg, slot="site", max_pixels=3_000_000))
    document = store.run(AddImage(case_id, jpeg, slot="id_front"))
    for image in (small, document):
        assert stored_bytes(store, image) == jpeg.read_bytes()


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def test_data_after_a_complete_image_is_accepted(store: LocalStore, jpeg: Path,
                                                 tmp_path: Path) -> None:
    """Motion photos carry a video after the image; vendors add trailers; some files are
    padded. The image itself is whole, so the photo is evidence."""
    data = jpeg.read_bytes()
    video = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 800 + b"\xff\xda\x00\x08junk"
    motion = tmp_path / "motion.jpg"
    motion.write_bytes(data + video)
    png = tmp_path / "scan.png"
    image = QImage(64, 48, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    assert image.save(str(png))
    png.write_bytes(png.read_bytes() + b"\n")  # a trailing newline, as some tools write
    case_id = store.run(CreateCase())
    assert store.run(AddImage(case_id, motion)).byte_size == len(data) + len(video)
    assert store.run(AddImage(case_id, png)).mime == "image/png"


def test_an_image_cut_inside_is_refused_even_with_an_embedded_thumbnail(
        store: LocalStore, jpeg: Path, tmp_path: Path) -> None:
    data = jpeg.read_bytes()
    # An EXIF-style thumbnail (a whole tiny JPEG, with its own end marker) in an APP1,
    # then the main image cut in its scan data: the thumbnail's end marker must not count.
    thumbnail = _segment(0xE1, b"Exif\x00\x00" + b"\xff\xd8\xff\xda\x00\x02ab\xff\xd9")
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[:2] + thumbnail + data[2:len(data) * 2 // 3])
    png = tmp_path / "cut.png"
    image = QImage(64, 48, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    assert image.save(str(png))
    png.write_bytes(png.read_bytes()[:-20])
    case_id = store.run(CreateCase())
    for bad in (cut, png):
        with pytest.raises(ImageRejectedError, match="incomplete"):
            store.run(AddImage(case_id, bad))


def test_gps_is_found_after_big_segments_and_fill_bytes_and_survives_a_bad_date(
        jpeg: Path, tmp_path: Path) -> None:
    from kycdesk.persistence.exif import read_exif
    from tests.exif_builder import exif_segment

    data = jpeg.read_bytes()
    app13 = _segment(0xED, b"Photoshop 3.0\x00" + b"\x00" * 60_000) * 5  # 300 KB before
    gps_bad_date = exif_segment(lat=9.0765, lon=7.3986, accuracy=None,
                                taken="2026:13:45 99:99:99")
    odd = tmp_path / "odd.jpg"
    odd.write_bytes(data[:2] + app13 + b"\xff\xff\xff" + gps_bad_date[1:] + data[2:])
    facts = read_exif(odd)
    assert facts.latitude == pytest.approx(9.0765, abs=1e-4)
    assert facts.longitude == pytest.approx(7.3986, abs=1e-4)
    assert facts.captured_at is None  # a date that is not one is not known


def test_a_camera_time_without_a_zone_is_kept_as_written(jpeg: Path, tmp_path: Path) -> None:
    from kycdesk.persistence.exif import read_exif
    from tests.exif_builder import with_exif

    naive = with_exif(jpeg, tmp_path / "naive.jpg", lat=51.5, lon=-0.12, accuracy=None,
                      taken="2026:11:20 09:00:00")
    assert read_exif(naive).captured_at == "2026-11-20T09:00:00"  # not shifted to UTC
    edge = with_exif(jpeg, tmp_path / "edge.jpg", lat=51.5, lon=-0.12, accuracy=None,
                     taken="0001:01:01 00:00:00", offset="+14:00")
    facts = read_exif(edge)  # an offset that overflows the calendar: no exception
    assert facts.latitude == pytest.approx(51.5)


def test_a_rotated_photo_is_recorded_and_shown_upright(store: LocalStore, jpeg: Path,
                                                       tmp_path: Path) -> None:
    """A phone held upright writes a landscape JPEG and EXIF orientation 6; the photo's
    recorded size and its thumbnail must be the portrait a person saw."""
    from kycdesk.persistence.exif import read_exif
    from tests.exif_builder import with_exif

    rotated = with_exif(jpeg, tmp_path / "portrait.jpg", lat=51.5, lon=-0.12, accuracy=None,
                        taken="2026:11:20 09:00:00", orientation=6)
    assert read_exif(rotated).orientation == 6
    stored_w, stored_h = QImage(str(jpeg)).width(), QImage(str(jpeg)).height()
    assert stored_w > stored_h  # the pixels are landscape
    image = store.run(AddImage(store.run(CreateCase()), rotated))
    assert (image.width, image.height) == (stored_h, stored_w)
    thumb = stored_thumbnail(store, store.paths.absolute(image.file_path))
    assert thumb.height() > thumb.width()


def test_a_heic_photo_gets_a_message_that_says_what_to_do(store: LocalStore,
                                                          tmp_path: Path) -> None:
    heic = tmp_path / "IMG_0001.HEIC"
    heic.write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 4000)
    with pytest.raises(ImageRejectedError, match="HEIC photo") as raised:
        store.run(AddImage(store.run(CreateCase()), heic))
    assert "export the photo as JPEG" in str(raised.value)


def test_taken_at_says_where_it_came_from(store: LocalStore, jpeg: Path,
                                          tmp_path: Path) -> None:
    import os

    from kycdesk.models.photo_text import describe_taken
    from tests.exif_builder import with_exif

    dated = with_exif(jpeg, tmp_path / "dated.jpg", lat=51.5, lon=-0.12, accuracy=None,
                      taken="2026:11:20 09:00:00")
    plain = tmp_path / "plain.jpg"
    plain.write_bytes(jpeg.read_bytes())
    os.utime(plain, (1_700_000_000, 1_700_000_000))  # 2023-11-14T22:13:20Z
    case_id = store.run(CreateCase())
    from_exif = store.run(AddImage(case_id, dated))
    from_file = store.run(AddImage(case_id, plain))
    assert (from_exif.captured_at, from_exif.captured_at_source) == \
        ("2026-11-20T09:00:00", "exif")
    assert (from_file.captured_at, from_file.captured_at_source) == \
        ("2023-11-14T22:13:20.000Z", "file")
    assert "time zone is not known" in describe_taken(from_exif.captured_at, "exif")
    assert "file's date, not the photo's" in describe_taken(from_file.captured_at, "file")
    assert store.list_images(case_id)[1].captured_at_source == "file"  # stored


@pytest.mark.qt_log_ignore("Corrupt JPEG data")  # libjpeg's warning: the point of it
def test_a_segment_length_off_by_a_few_bytes_is_tolerated_as_libjpeg_does(
        store: LocalStore, jpeg: Path, tmp_path: Path) -> None:
    data = jpeg.read_bytes()
    # An APP2 whose declared length stops 2 bytes short of its real end: the walker must
    # find the next marker after the stray bytes (libjpeg warns, decodes, and so do we).
    sloppy = bytes([0xFF, 0xE2]) + struct.pack(">H", 10) + b"ICC_PRO" + b"\x00" + b"\x12\x34"
    odd = tmp_path / "sloppy.jpg"
    odd.write_bytes(data[:2] + sloppy + data[2:])
    assert store.run(AddImage(store.run(CreateCase()), odd)).byte_size == len(data) + 14
