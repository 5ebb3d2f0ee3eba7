"""Photo facts from EXIF, the viewer's zoom, drag-and-drop import, "Not saved" display."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QLabel, QPushButton
from pytestqt.qtbot import QtBot

from kycdesk.models.thumbnails import ThumbnailLoader
from kycdesk.paths import DataPaths
from kycdesk.persistence.commands import AddImage, CreateCase
from kycdesk.persistence.exif import read_exif
from kycdesk.persistence.store import LocalStore
from kycdesk.views.photo_viewer import PhotoViewer
from tests.exif_builder import with_exif
from tests.test_editor import _make_app, _new_editor
from tests.vaults import make_vault


def test_exif_gps_accuracy_and_time_are_read(jpeg: Path, tmp_path: Path) -> None:
    photo = with_exif(jpeg, tmp_path / "gps.jpg", lat=51.50735, lon=-0.12776, accuracy=6.5,
                      taken="2026:11:20 14:02:31", offset="+01:00")
    facts = read_exif(photo)
    assert facts.latitude == pytest.approx(51.50735, abs=1e-5)
    assert facts.longitude == pytest.approx(-0.12776, abs=1e-5)
    assert facts.accuracy == 6.5
    assert facts.captured_at == "2026-11-20T13:02:31.000Z"


@pytest.mark.parametrize("damage", [b"", b"\xff\xd8", b"\xff\xd8\xff\xe1\x00\x10Exif\x00\x00MMxx",
                                    b"\xff\xd8\xff\xe1\xff\xffExif\x00\x00II*\x00\xff\xff\xff"])
def test_broken_exif_means_unknown_never_an_error(tmp_path: Path, damage: bytes) -> None:
    path = tmp_path / "broken.jpg"
    path.write_bytes(damage)
    facts = read_exif(path)
    assert (facts.latitude, facts.longitude, facts.captured_at) == (None, None, None)


def test_imported_photo_takes_location_from_exif(store: LocalStore, jpeg: Path,
                                                 tmp_path: Path) -> None:
    photo = with_exif(jpeg, tmp_path / "gps.jpg", lat=-33.8688, lon=151.2093, accuracy=None,
                      taken="2026:11:20 09:00:00", offset="+11:00")
    image = store.run(AddImage(store.run(CreateCase()), photo, slot="site"))
    assert image.location.latitude == pytest.approx(-33.8688, abs=1e-5)
    assert image.location.longitude == pytest.approx(151.2093, abs=1e-5)
    assert image.location.accuracy is None
    # Named offline (issue 22): the nearest place and how it was found, no street.
    assert image.location.address == "near Sydney, New South Wales, Australia"
    assert image.location.address_source == "nearest place, under 1 km"
    assert image.captured_at == "2026-11-19T22:00:00.000Z"


def test_viewer_zooms_with_keys_and_buttons(qtbot: QtBot, store: LocalStore,
                                            jpeg: Path) -> None:
    image = store.run(AddImage(store.run(CreateCase()), jpeg))
    loader = ThumbnailLoader(store.paths, store.vault)
    viewer = PhotoViewer(image, loader)
    qtbot.addWidget(viewer)
    viewer.show()
    qtbot.waitUntil(lambda: not viewer.item.pixmap().isNull())
    fitted = viewer.view.transform().m11()
    qtbot.keyClick(viewer, Qt.Key.Key_Plus)
    assert viewer.view.transform().m11() == pytest.approx(fitted * 1.25)
    qtbot.keyClick(viewer, Qt.Key.Key_1)
    assert viewer.view.transform().m11() == pytest.approx(1.0)
    qtbot.keyClick(viewer, Qt.Key.Key_0)
    assert viewer.view.transform().m11() == pytest.approx(fitted)
    caption = viewer.findChild(QLabel, "photo-caption")
    assert caption is not None and "No location" in caption.text()  # missing stays missing
    loader.wait_idle()


@pytest.mark.parametrize("size", [(1600, 1200), (3000, 4000)])
def test_viewer_100_percent_is_the_photos_own_size(
        qtbot: QtBot, store: LocalStore, tmp_path: Path, size: tuple[int, int]) -> None:
    """A small photo is not enlarged to 2,400 px and a big one not shrunk to it: at
    "100 %" one photo pixel is one screen pixel, from a decode at the photo's own size."""
    from kycdesk.demo import render_photo

    source = tmp_path / "photo.jpg"
    render_photo(source, label="ID", subtitle="size", seed=1, size=size)
    image = store.run(AddImage(store.run(CreateCase()), source))
    assert (image.width, image.height) == size
    loader = ThumbnailLoader(store.paths, store.vault)
    loader.request(image.id, image.file_path)  # as the slot's list did: the thumbnail
    qtbot.waitUntil(lambda: loader.cached(image.id) is not None, timeout=20_000)
    viewer = PhotoViewer(image, loader)  # shows it first, at the photo's size
    qtbot.addWidget(viewer)
    viewer.show()
    assert viewer.item.sceneBoundingRect().width() == pytest.approx(size[0], abs=2)
    qtbot.waitUntil(lambda: viewer.item.pixmap().width() == size[0], timeout=20_000)
    [hundred] = [b for b in viewer.findChildren(QPushButton) if b.text() == "100 %"]
    hundred.click()
    shown = viewer.view.mapFromScene(viewer.item.sceneBoundingRect()).boundingRect()
    assert (shown.width(), shown.height()) == pytest.approx(size, abs=2)
    qtbot.keyClick(viewer, Qt.Key.Key_0)
    fitted = viewer.view.mapFromScene(viewer.item.sceneBoundingRect()).boundingRect()
    assert fitted.width() <= viewer.view.viewport().width() + 2
    loader.wait_idle()


def test_viewer_caption_names_the_place_and_how_it_was_found(
        qtbot: QtBot, store: LocalStore, jpeg: Path, tmp_path: Path) -> None:
    photo = with_exif(jpeg, tmp_path / "gps.jpg", lat=-1.2864, lon=36.8172, accuracy=8000.0,
                      taken="2026:11:20 09:00:00")
    image = store.run(AddImage(store.run(CreateCase()), photo, slot="site"))
    loader = ThumbnailLoader(store.paths, store.vault)
    viewer = PhotoViewer(image, loader)
    qtbot.addWidget(viewer)
    caption = viewer.findChild(QLabel, "photo-caption")
    assert caption is not None
    assert "-1.28640, 36.81720 ±8000 m · near Nairobi, Nairobi Area, Kenya (nearest place, " \
        "under 1 km; the GPS fix is only good to ±8 km)" in caption.text()
    loader.wait_idle()


def test_dropping_files_on_a_slot_imports_them(qtbot: QtBot, paths: DataPaths,
                                               jpeg: Path) -> None:
    app = _make_app(qtbot, paths)
    try:
        editor = _new_editor(qtbot, app)
        slot = editor.photos.slots["address_proof"]
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(jpeg))])
        drop = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime,
                          Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
        with qtbot.waitSignal(editor.session.photosChanged, timeout=10_000):
            slot.dropEvent(drop)
        assert editor.model.photo_count("address_proof") == 1
    finally:
        app.shutdown()


def test_editor_says_not_saved_while_the_disk_is_full_then_recovers(
        qtbot: QtBot, paths: DataPaths) -> None:
    app = _make_app(qtbot, paths)
    try:
        editor = _new_editor(qtbot, app)
        worker = app.writer_thread.writer  # type: ignore[union-attr]

        def fill_disk() -> None:
            conn = worker._store.conn  # type: ignore[union-attr]
            conn.execute(f"PRAGMA max_page_count={conn.scalar('PRAGMA page_count')}")

        def free_disk() -> None:
            worker._store.conn.execute("PRAGMA max_page_count=1073741823")  # type: ignore[union-attr]

        QTimer.singleShot(0, worker, fill_disk)
        qtbot.waitUntil(lambda: app.writer_thread.client.pending_count() == 0)  # type: ignore[union-attr]
        editor.model.set_value("applicant.previous_names", "x" * 2000)
        for i in range(120):
            editor.model.set_value("applicant.first_name", f"Name {i} " + "y" * 3000)
        qtbot.waitUntil(lambda: editor.save_label.text().startswith("Not saved"), timeout=10_000)
        assert "disk is full" in editor.save_label.text()
        assert "retrying" in editor.save_label.text()
        assert "Not saved" in app.window.save_state_label.text()
        QTimer.singleShot(0, worker, free_disk)
        qtbot.waitUntil(lambda: editor.save_label.text().startswith("Saved"), timeout=15_000)
        assert app.window.save_state_label.text() == ""
        value = editor.model.value("applicant.first_name")
    finally:
        app.shutdown()
    with LocalStore(paths, vault=make_vault()) as store:
        assert store.load_case(editor.case_id).form["applicant.first_name"] == value
