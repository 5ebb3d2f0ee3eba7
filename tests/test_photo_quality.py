"""The retake checks on generated ID photos: each problem is found, and a good photo gets
no suggestion. The thresholds' margins are asserted, not just pass/fail: a threshold that
drifted close to what a good photo measures would start nagging verifiers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from kycdesk.app import KycDeskApp
from kycdesk.core.photo_quality import (
    BLUR_VARIANCE,
    DARK_MEAN,
    GLARE_SHARE,
    SMALL_SHARE,
    Problem,
    assess,
)
from kycdesk.core.records import RetakeNote
from kycdesk.paths import DataPaths
from kycdesk.persistence import events
from kycdesk.persistence.quality import check_photo, grey_of
from kycdesk.persistence.store import LocalStore
from kycdesk.persistence.sync_repo import load_sync_case
from kycdesk.views.case_editor import CaseEditor
from tests.desks import started_desk
from tests.quality_images import blurred, darkened, glared, id_photo
from tests.vaults import make_vault


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_good_photo_gets_no_suggestion_with_room_to_spare(seed: int) -> None:
    quality = assess(id_photo(seed=seed))
    assert quality.problems == ()
    assert quality.sharpness > 5 * BLUR_VARIANCE
    assert quality.glare_share == 0.0
    assert quality.mean_grey > 2 * DARK_MEAN
    assert quality.document_share > 2 * SMALL_SHARE


@pytest.mark.parametrize("sigma", [2.5, 4.0])
def test_a_blurred_photo_is_flagged(sigma: float) -> None:
    quality = assess(blurred(id_photo(), sigma))
    assert quality.problems == (Problem.BLURRED,)
    assert quality.suggestions() == ["This photo looks blurred — retake?"]


def test_a_slight_softness_is_not_called_blurred() -> None:
    """A 1 px blur (a phone's own processing) stays quiet."""
    assert Problem.BLURRED not in assess(blurred(id_photo(), 0.8)).problems


def test_a_dark_photo_is_flagged_as_dark_not_blurred() -> None:
    quality = assess(darkened(id_photo(), 0.2))
    assert quality.problems == (Problem.DARK,)
    assert Problem.DARK not in assess(darkened(id_photo(), 0.6)).problems  # dim but usable


def test_glare_on_the_card_is_flagged() -> None:
    assert Problem.GLARE in assess(glared(id_photo(), 0.10)).problems
    small_spot = assess(glared(id_photo(), 0.01))
    assert Problem.GLARE not in small_spot.problems and small_spot.glare_share < GLARE_SHARE


def test_a_document_far_away_is_flagged_too_small() -> None:
    quality = assess(id_photo(card_share=0.06))
    assert Problem.SMALL in quality.problems and quality.document_share < SMALL_SHARE
    assert Problem.SMALL not in assess(id_photo(card_share=0.35)).problems


def test_a_blank_picture_is_not_called_small() -> None:
    """No edges at all: the whole frame is the document (nothing to say it is small)."""
    assert Problem.SMALL not in assess(np.full((300, 400), 128, np.uint8)).problems


def test_from_a_file_through_the_scaled_decode(tmp_path: Path) -> None:
    grey = id_photo(2000, 1500)
    image = QImage(grey.data, 2000, 1500, 2000, QImage.Format.Format_Grayscale8).copy()
    sharp, soft = tmp_path / "sharp.jpg", tmp_path / "soft.jpg"
    assert image.save(str(sharp), "JPEG", 90)  # type: ignore[call-overload]
    assert np.array_equal(grey_of(image), grey)
    blurred_grey = blurred(grey, 6.0)
    QImage(blurred_grey.data, 2000, 1500, 2000,
           QImage.Format.Format_Grayscale8).copy().save(str(soft), "JPEG", 90)  # type: ignore[call-overload]
    good, bad = check_photo(sharp), check_photo(soft)
    assert good is not None and good.problems == ()
    assert bad is not None and Problem.BLURRED in bad.problems
    (tmp_path / "junk.jpg").write_bytes(b"not a photo")
    assert check_photo(tmp_path / "junk.jpg") is None


def _jpeg(path: Path, grey: np.ndarray) -> Path:
    height, width = grey.shape
    image = QImage(np.ascontiguousarray(grey).data, width, height, width,
                   QImage.Format.Format_Grayscale8).copy()
    assert image.save(str(path), "JPEG", 90)  # type: ignore[call-overload]
    return path


@pytest.fixture
def desk(qtbot: QtBot, paths: DataPaths) -> Iterator[KycDeskApp]:
    app = started_desk(qtbot, paths)
    yield app
    app.shutdown()


def test_a_blurred_id_photo_gets_a_retake_suggestion_the_verifier_can_override(
        qtbot: QtBot, desk: KycDeskApp, paths: DataPaths, tmp_path: Path) -> None:
    with qtbot.waitSignal(desk.caseOpened, timeout=10_000):
        desk.new_case()
    editor = desk.window.tabs.currentWidget()
    assert isinstance(editor, CaseEditor)
    slot = editor.photos.slots["id_front"]
    sharp = _jpeg(tmp_path / "sharp.jpg", id_photo())
    with qtbot.waitSignal(editor.session.photoQuality, timeout=10_000) as checked:
        editor.photos.import_files("id_front", [sharp])
    assert checked.args is not None and checked.args[2] == []  # checked: nothing to say
    assert slot.quality_box.isHidden()
    soft = _jpeg(tmp_path / "soft.jpg", blurred(id_photo(seed=2), 4.0))
    with qtbot.waitSignal(editor.session.photoQuality, timeout=10_000) as flagged:
        editor.photos.import_files("id_front", [soft])
    assert flagged.args is not None and flagged.args[0] == "id_front"
    image_id = flagged.args[1]
    assert [image.id for image in editor.session.photos["id_front"].images][-1] == image_id
    assert not slot.quality_box.isHidden()
    assert slot.quality_label.text() == "⚠ This photo looks blurred — retake?"
    assert slot.keep_button.minimumHeight() >= 44
    # Other slots (a selfie is no document) are not checked.
    assert not editor.definition.field("photos.selfie").check_quality

    qtbot.mouseClick(slot.keep_button, Qt.MouseButton.LeftButton)
    assert slot.quality_box.isHidden()
    case_id = editor.session.case_id
    desk.shutdown()  # the writer drains its queue: both events are in the store
    with LocalStore(paths, vault=make_vault()) as store:
        recorded = [(kind, detail) for _, kind, detail in events.list_events(store.conn, case_id)
                    if kind.startswith("photo_quality")]
        outgoing = load_sync_case(store.conn, case_id)  # what sync will send
    assert outgoing.retakes == {image_id: RetakeNote(("blurred",), kept=True)}
    assert recorded == [
        ("photo_quality_suggested",
         {"image_id": image_id, "slot": "id_front", "problems": ["blurred"]}),
        ("photo_quality_overridden",
         {"image_id": image_id, "slot": "id_front",
          "suggestions": ["This photo looks blurred — retake?"]})]


def test_sync_sends_the_retake_note_with_its_photo() -> None:
    """What the engine builds for the server from a queued case (no network needed)."""
    from typing import Any, cast

    from kycdesk.core.records import ImageRecord, Location, SyncCase
    from kycdesk.sync.engine import SyncEngine

    def image(image_id: int) -> ImageRecord:
        return ImageRecord(id=image_id, case_id="c", client_image_id=str(uuid.UUID(int=image_id)),
                           file_path=f"img_{image_id}.jpg", slot="id_front", sha256="a" * 64,
                           byte_size=1, mime="image/jpeg", width=4, height=3,
                           location=Location(), captured_at=None, source="import",
                           synced=True, server_image_id=f"s{image_id}")

    case = SyncCase(id="c", reference_number=None, status="READY", revision=1,
                    form_id=None, form_version=None, form={}, finalized_at=None,
                    sync_attempts=0, images=[image(1), image(2)],
                    retakes={1: RetakeNote(("blurred",), kept=True)})
    engine = SyncEngine(cast(Any, None), cast(Any, None), device_id="device")
    sent = engine._submission(case, {1: "s1", 2: "s2"}).images
    assert (sent[0].retake_suggested, sent[0].retake_overridden) == (["blurred"], True)
    assert (sent[1].retake_suggested, sent[1].retake_overridden) == ([], False)


def test_retake_suggestions_come_back_when_a_case_is_opened_again(
        qtbot: QtBot, paths: DataPaths, tmp_path: Path) -> None:
    """After a crash or a restart: a recorded suggestion is shown again (unless the verifier
    kept the photo), and a photo stored but never checked (the app stopped in between, or
    recovery brought it back) is checked now. Before, every ⚠ was gone once reopened."""
    from kycdesk.persistence.commands import AddImage, AppendEvent, CreateCase

    with LocalStore(paths, vault=make_vault()) as store:
        case_id = store.run(CreateCase(form_id="individual_kyc", form_version="3"))
        store.run(AddImage(case_id, _jpeg(tmp_path / "soft.jpg",
                                          blurred(id_photo(seed=2), 4.0)), slot="id_front"))
        back = store.run(AddImage(case_id, _jpeg(tmp_path / "dark.jpg",
                                                 darkened(id_photo(seed=3), 0.2)), slot="id_back"))
        store.run(AppendEvent(case_id, "photo_quality_suggested",
                              {"image_id": back.id, "slot": "id_back", "problems": ["dark"]}))

    def open_case(app: KycDeskApp) -> CaseEditor:
        qtbot.waitUntil(lambda: app.reader is not None, timeout=10_000)
        editor = app.open_case(case_id)
        assert editor is not None
        return editor

    app = started_desk(qtbot, paths)
    try:
        editor = open_case(app)
        front, back_slot = editor.photos.slots["id_front"], editor.photos.slots["id_back"]
        assert not back_slot.quality_box.isHidden()  # as recorded, at once
        assert "dark" in back_slot.quality_label.text()
        qtbot.waitUntil(lambda: not front.quality_box.isHidden(), timeout=10_000)
        assert "blurred" in front.quality_label.text()  # checked now, never before
        qtbot.mouseClick(back_slot.keep_button, Qt.MouseButton.LeftButton)
    finally:
        app.shutdown()
    app = started_desk(qtbot, paths)
    try:
        editor = open_case(app)
        front, back_slot = editor.photos.slots["id_front"], editor.photos.slots["id_back"]
        assert back_slot.quality_box.isHidden()  # kept: not asked again
        assert not front.quality_box.isHidden()  # recorded the first time: shown at once
    finally:
        app.shutdown()
