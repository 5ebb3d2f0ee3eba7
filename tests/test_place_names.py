"""Place words stored with located photos: at import (from EXIF), at capture (the
camera's position), not for photos without GPS; older located photos filled by the
bounded background pass; the schema 7 → 8 upgrade keeps what was there."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from kycdesk.core.records import Location
from kycdesk.paths import DataPaths, ensure_private_dir
from kycdesk.persistence import schema
from kycdesk.persistence.commands import AddImage, CreateCase, NamePhotos
from kycdesk.persistence.db import Connection
from kycdesk.persistence.place_backfill import (
    name_photos,
    start_place_backfill,
    unnamed_photos,
)
from kycdesk.persistence.store import LocalStore, open_connection
from tests.exif_builder import with_exif
from tests.vaults import make_vault


def test_import_names_the_exif_position_and_capture_names_the_camera_position(
        qapp: object, paths: DataPaths, jpeg: Path, tmp_path: Path) -> None:
    located = with_exif(jpeg, tmp_path / "paris.jpg", lat=48.8584, lon=2.2945,
                        accuracy=9000.0, taken="2026:11:20 09:00:00")
    with LocalStore(paths, vault=make_vault()) as store:
        case_id = store.run(CreateCase())
        imported = store.run(AddImage(case_id, located, slot="site"))
        captured = store.run(AddImage(case_id, jpeg, slot="site", origin="camera",
                                      location=Location(-1.2864, 36.8172, 15.0)))
        plain = store.run(AddImage(case_id, jpeg, slot="site"))
        stored = {i.id: i for i in store.list_images(case_id)}
    assert imported.location.address == "near Paris 16 Passy, Ile-de-France, France"
    # The EXIF accuracy (9 km) is coarser than the distance to the place: said.
    assert imported.location.address_source == \
        "nearest place, 1 km; the GPS fix is only good to ±9 km"
    assert captured.location.address == "near Nairobi, Nairobi Area, Kenya"
    assert captured.location.address_source == "nearest place, under 1 km"
    assert plain.location == Location()  # no GPS: no words, nothing guessed
    assert stored[imported.id].location == imported.location  # as read back from the row


def test_words_given_with_the_photo_are_kept(qapp: object, paths: DataPaths,
                                             jpeg: Path) -> None:
    given = Location(-1.2864, 36.8172, None, "near Nairobi, Nairobi Area, Kenya",
                     "nearest place, under 1 km")
    with LocalStore(paths, vault=make_vault()) as store:
        case_id = store.run(CreateCase())
        image = store.run(AddImage(case_id, jpeg, origin="camera", location=given))
    assert image.location == given


def _legacy_located_photo(store: LocalStore, case_id: str, jpeg: Path,
                          location: Location) -> int:
    """A located photo as versions before 8 stored it: coordinates, no words (in clear,
    as version 10's migration leaves such a row: sealed column NULL, waiting for a name)."""
    image = store.run(AddImage(case_id, jpeg))
    store.conn.execute("UPDATE case_images SET photo_sealed = NULL, sha256 = ?, latitude = ?, "
                       "longitude = ?, accuracy = ?, address = NULL, address_source = NULL, "
                       "place_pending = 1 WHERE id = ?",
                       (image.sha256, location.latitude, location.longitude,
                        location.accuracy, image.id))
    return image.id


def test_older_located_photos_are_named_in_bounded_batches(
        qapp: object, paths: DataPaths, jpeg: Path) -> None:
    with LocalStore(paths, vault=make_vault()) as store:
        case_id = store.run(CreateCase())
        first = _legacy_located_photo(store, case_id, jpeg, Location(0.0, -30.0, None))
        second = _legacy_located_photo(store, case_id, jpeg, Location(52.52, 13.405, 5.0))
        unlocated = store.run(AddImage(case_id, jpeg)).id
        batch = unnamed_photos(store.conn, limit=1)
        assert [image_id for image_id, _ in batch] == [first]  # at most `limit` per pass
        assert store.run(NamePhotos(None, tuple(name_photos(batch)))) == 1
        rest = unnamed_photos(store.conn)
        assert [image_id for image_id, _ in rest] == [second]
        words = name_photos(rest)
        # A photo that got words meanwhile keeps them: the pass never overwrites.
        store.conn.execute("UPDATE case_images SET address = 'set meanwhile' WHERE id = ?",
                           (second,))
        assert store.run(NamePhotos(None, tuple(words))) == 0
        images = {i.id: i for i in store.list_images(case_id)}
    assert (images[first].location.address or "").startswith("at sea, ")
    assert images[second].location.address == "set meanwhile"
    assert images[unlocated].location.address is None
    assert images[unlocated].location.address_source is None


def test_the_background_pass_hands_its_words_to_the_writer(
        qtbot: QtBot, paths: DataPaths, jpeg: Path) -> None:
    with LocalStore(paths, vault=make_vault()) as store:
        case_id = store.run(CreateCase())
        image_id = _legacy_located_photo(store, case_id, jpeg, Location(-1.2864, 36.8172))
    received: list[list[tuple[int, str, str]]] = []
    start_place_backfill(paths, received.append, vault=make_vault())
    qtbot.waitUntil(lambda: bool(received), timeout=20_000)
    assert received == [[(image_id, "near Nairobi, Nairobi Area, Kenya",
                          "nearest place, under 1 km")]]


def test_schema_9_adds_the_source_and_keeps_what_version_8_held(
        qapp: object, paths: DataPaths) -> None:
    ensure_private_dir(paths.root)
    old = Connection(paths.database, role="old", writer=True)
    try:
        schema.migrate(old, target=8)
        old.execute("INSERT INTO cases(id, status) VALUES "
                    "('00000000-0000-4000-8000-000000000001', 'DRAFT')")
        old.execute("INSERT INTO case_images(case_id, file_path, latitude, longitude, address) "
                    "VALUES ('00000000-0000-4000-8000-000000000001', 'cases/x/img_1.jpg', "
                    "51.5, -0.1, 'as the seed had it'), "
                    "('00000000-0000-4000-8000-000000000001', 'cases/x/img_2.jpg', "
                    "-1.2864, 36.8172, NULL)")
    finally:
        old.close()
    conn = open_connection(paths, writer=True, role="test", vault=make_vault())
    try:
        assert schema.user_version(conn) >= 9
        rows = conn.query_all("SELECT address, address_source FROM case_images ORDER BY id")
        assert rows == [("as the seed had it", None), (None, None)]
        # Only the photo with no words waits for the background pass.
        assert [loc.latitude for _, loc in unnamed_photos(conn)] == [-1.2864]
    finally:
        conn.close()


def test_the_app_names_older_located_photos_after_its_window_is_up(
        qtbot: QtBot, paths: DataPaths, jpeg: Path) -> None:
    from tests.desks import started_desk

    with LocalStore(paths, vault=make_vault()) as store:
        case_id = store.run(CreateCase())
        image_id = _legacy_located_photo(store, case_id, jpeg, Location(-4.0435, 39.6682))
    app = started_desk(qtbot, paths)
    try:
        def named() -> bool:
            assert app.reader is not None
            return any(i.id == image_id and i.location.address is not None
                       for i in app.reader.list_images(case_id))
        qtbot.waitUntil(named, timeout=20_000)
        assert app.reader is not None
        image = next(i for i in app.reader.list_images(case_id) if i.id == image_id)
        assert (image.location.address, image.location.address_source) == \
            ("near Mombasa, Kenya", "nearest place, 1 km")
    finally:
        app.shutdown()
