"""An ID photo attached to a case is read off the GUI thread and its values are offered
for confirmation, one by one (keyboard and touch), with real widgets offscreen: a
confirmed value is saved like a typed one and its reason recorded; a typed value the
document disagrees with is flagged at its field."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QLineEdit
from pytestqt.qtbot import QtBot

from kycdesk.app import KycDeskApp
from kycdesk.paths import DataPaths
from kycdesk.persistence import cases, events
from kycdesk.persistence.store import LocalStore
from kycdesk.views.case_editor import CaseEditor
from kycdesk.views.document_offer import DocumentOfferDialog
from tests.desks import started_desk
from tests.mrz_samples import render
from tests.test_mrz import TD1, TD3
from tests.vaults import make_vault


@pytest.fixture
def desk(qtbot: QtBot, paths: DataPaths) -> Iterator[KycDeskApp]:
    app = started_desk(qtbot, paths)
    yield app
    app.shutdown()


def _open_case(qtbot: QtBot, desk: KycDeskApp) -> CaseEditor:
    with qtbot.waitSignal(desk.caseOpened, timeout=10_000):
        desk.new_case()
    editor = desk.window.tabs.currentWidget()
    assert isinstance(editor, CaseEditor)
    return editor


def _offered(qtbot: QtBot, editor: CaseEditor, photo: Path) -> DocumentOfferDialog:
    with qtbot.waitSignal(editor.session.documents.documentRead, timeout=20_000):
        editor.photos.import_files("id_front", [photo])
    dialog = editor.document_offer.dialog
    assert dialog is not None and dialog.isVisible()
    return dialog


def test_passport_values_are_offered_confirmed_one_by_one_and_saved(
        qtbot: QtBot, desk: KycDeskApp, paths: DataPaths, tmp_path: Path) -> None:
    editor = _open_case(qtbot, desk)
    surname_input = editor.editors["applicant.last_name"].findChild(QLineEdit)
    assert surname_input is not None
    qtbot.keyClicks(surname_input, "Erikson")  # typed by hand, with a typo
    photo = tmp_path / "passport.jpg"
    photo.write_bytes(render(TD3, random.Random(7), distort=False))

    dialog = _offered(qtbot, editor, photo)
    labels = {key: dialog.findChild(QLabel, f"read:{key}") for key in dialog.offers}
    shown = {key: label.text() for key, label in labels.items() if label is not None}
    assert set(shown) == {"applicant.last_name", "applicant.first_name",
                          "applicant.middle_names", "identity.document_number",
                          "applicant.date_of_birth", "applicant.gender",
                          "identity.expiry_date"}
    assert "ERIKSSON" in shown["applicant.last_name"]
    assert "check digits passed" in shown["identity.document_number"]
    assert "no check digit" in shown["applicant.last_name"]
    assert "Female" in shown["applicant.gender"]
    # The specimen expired in 2012: said beside its expiry.
    assert "Expired" in dialog.notes["identity.expiry_date"].text()
    # UTO (the specimen's Utopia) is no choice of the form: said, not offered.
    not_offered = dialog.findChild(QLabel, "not-offered")
    assert not_offered is not None and "Nationality: UTO" in not_offered.text()
    # Nothing went into the form by itself.
    assert editor.model.value("identity.document_number") is None
    # The typo is flagged in the window and at the field.
    assert "Typed: Erikson" in dialog.notes["applicant.last_name"].text()
    flag = editor.editors["applicant.last_name"].findChild(
        QLabel, "document-mismatch:applicant.last_name")
    assert flag is not None and not flag.isHidden()
    assert flag.text() == "⚠ The ID document says ERIKSSON"

    # Keyboard: the first value's button has the focus; Space uses it.
    surname_button = dialog.use_buttons["applicant.last_name"]
    assert surname_button.hasFocus() or dialog.focusWidget() is surname_button
    assert all(b.minimumHeight() >= 44 for b in dialog.use_buttons.values())
    qtbot.keyClick(surname_button, Qt.Key.Key_Space)
    assert editor.model.value("applicant.last_name") == "ERIKSSON"
    assert surname_input.text() == "ERIKSSON"
    assert flag.isHidden()
    assert surname_button.text() == "✓ In the form" and not surname_button.isEnabled()
    # Touch/mouse: one more value; the others stay unconfirmed.
    qtbot.mouseClick(dialog.use_buttons["identity.document_number"],
                     Qt.MouseButton.LeftButton)
    assert editor.model.value("identity.document_number") == "L898902C3"
    assert editor.model.value("applicant.date_of_birth") is None

    case_id = editor.session.case_id
    editor.flush()
    desk.shutdown()  # the writer drains its queue
    with LocalStore(paths, vault=make_vault()) as store:
        form = cases.load_case(store.conn, case_id).form
        recorded = [detail for _, kind, detail in events.list_events(store.conn, case_id)
                    if kind == "field_confirmed_from_document"]
        history = store.load_sync_case(case_id).history
    assert form["applicant.last_name"] == "ERIKSSON"
    assert form["identity.document_number"] == "L898902C3"
    assert "applicant.date_of_birth" not in form
    assert [(d["field_key"], d["why"], d["source"]) for d in recorded] == [
        ("applicant.last_name", "document", "MRZ"),
        ("identity.document_number", "document", "MRZ")]
    assert all("value" not in d and "ERIKSSON" not in str(d) for d in recorded)
    # The field-level audit, as sent with the submission: typed by hand, then taken
    # from the document the verifier confirmed (why="document").
    reasons = [(e["field_key"], e["new"], e["why"]) for e in history]
    assert ("applicant.last_name", "Erikson", "typed") in reasons
    assert reasons.index(("applicant.last_name", "Erikson", "typed")) < \
        reasons.index(("applicant.last_name", "ERIKSSON", "document"))
    assert ("identity.document_number", "L898902C3", "document") in reasons
    assert all(why == "typed" for key, _, why in reasons
               if key not in ("applicant.last_name", "identity.document_number"))


def test_a_typed_value_changed_later_is_flagged_then_cleared(
        qtbot: QtBot, desk: KycDeskApp, tmp_path: Path) -> None:
    editor = _open_case(qtbot, desk)
    photo = tmp_path / "passport.jpg"
    photo.write_bytes(render(TD3, random.Random(7), distort=False))
    dialog = _offered(qtbot, editor, photo)
    editor.go_to_step(editor.definition.step_index_of("identity.document_number"))
    number_input = editor.editors["identity.document_number"].findChild(QLineEdit)
    assert number_input is not None
    qtbot.keyClicks(number_input, "L898902C8")
    flag = editor.editors["identity.document_number"].findChild(
        QLabel, "document-mismatch:identity.document_number")
    assert flag is not None and not flag.isHidden()
    assert "Typed: L898902C8" in dialog.notes["identity.document_number"].text()
    number_input.clear()
    qtbot.keyClicks(number_input, "L898902C3")
    assert flag.isHidden()
    assert dialog.use_buttons["identity.document_number"].text() == "✓ In the form"


def test_a_photo_without_a_document_offers_nothing(
        qtbot: QtBot, desk: KycDeskApp, tmp_path: Path) -> None:
    from PIL import Image

    editor = _open_case(qtbot, desk)
    photo = tmp_path / "wall.jpg"
    Image.new("RGB", (1200, 800), (200, 190, 180)).save(photo)
    with qtbot.waitSignal(editor.session.photoQuality, timeout=20_000):
        editor.photos.import_files("id_front", [photo])
    # The reading runs on the same lane after the check: give it time to finish.
    qtbot.waitUntil(lambda: not editor.session.documents.busy(), timeout=20_000)
    assert editor.document_offer.dialog is None


def test_a_zone_whose_digits_fail_offers_nothing_and_says_so(
        qtbot: QtBot, desk: KycDeskApp, tmp_path: Path) -> None:
    editor = _open_case(qtbot, desk)
    photo = tmp_path / "card.jpg"
    wrong_digit = (TD1[0], TD1[1].replace("7408122", "7408123"), TD1[2])
    photo.write_bytes(render(wrong_digit, random.Random(7), distort=False))
    dialog = _offered(qtbot, editor, photo)
    assert dialog.use_buttons == {}
    assert not dialog.note_label.isHidden()
    assert dialog.note_label.text().startswith("Some check digits failed: nothing is "
                                               "offered from this photo.")


def test_a_photo_deleted_before_its_reading_arrives_offers_nothing(
        qtbot: QtBot, desk: KycDeskApp, tmp_path: Path) -> None:
    import threading

    from kycdesk.models.document_reading import read_photo

    editor = _open_case(qtbot, desk)
    session = editor.session
    release = threading.Event()

    was_read = threading.Event()

    def held_reader(path: Path, today: object) -> object:
        read = read_photo(path, today)  # type: ignore[arg-type]
        was_read.set()
        release.wait(20)  # read, not yet back: the verifier deletes the photo meanwhile
        return read

    session.documents._reader = held_reader  # type: ignore[assignment]
    photo = tmp_path / "passport.jpg"
    photo.write_bytes(render(TD3, random.Random(7), distort=False))
    with qtbot.waitSignal(session.photosChanged, timeout=10_000):
        editor.photos.import_files("id_front", [photo])
    qtbot.waitUntil(was_read.is_set, timeout=20_000)
    image_id = session.photos["id_front"].images[0].id
    with qtbot.waitSignal(session.photosChanged, timeout=10_000):
        session.delete_photo(image_id)
    release.set()
    qtbot.waitUntil(lambda: not session.documents.busy(), timeout=20_000)
    assert editor.document_offer.dialog is None
