"""The case editor against the real store and writer thread, widgets offscreen."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QToolButton,
    QWidget,
)
from pytestqt.qtbot import QtBot

from kycdesk.app import KycDeskApp
from kycdesk.core.states import CaseStatus
from kycdesk.paths import DataPaths
from kycdesk.persistence.commands import AppendEdit, CreateCase, SaveForm
from kycdesk.persistence.store import LocalStore
from kycdesk.views.camera import CameraSource, NoCamera
from kycdesk.views.case_editor import CaseEditor
from kycdesk.views.field_widgets import DateEditor, TextEditor, YesNoEditor
from tests import transitions
from tests.desks import started_desk
from tests.fakes import FakeCamera
from tests.vaults import make_vault

DEBOUNCE_MS = 150


def _make_app(qtbot: QtBot, paths: DataPaths, debounce_ms: int = DEBOUNCE_MS,
              camera_factory: Callable[[], CameraSource] = FakeCamera) -> KycDeskApp:
    """The app with its real wiring; the camera comes in at the app's camera seam."""
    return started_desk(qtbot, paths, debounce_ms=debounce_ms, camera_factory=camera_factory)


@pytest.fixture
def desk(qtbot: QtBot, paths: DataPaths) -> Iterator[KycDeskApp]:
    app = _make_app(qtbot, paths)
    yield app
    app.shutdown()


def _new_editor(qtbot: QtBot, desk: KycDeskApp) -> CaseEditor:
    with qtbot.waitSignal(desk.caseOpened, timeout=10_000):
        desk.new_case()
    editor = desk.window.tabs.currentWidget()
    assert isinstance(editor, CaseEditor)
    return editor


def _line(editor: CaseEditor, key: str) -> QLineEdit:
    widget = editor.editors[key]
    assert isinstance(widget, TextEditor)
    return widget.line


def _saved_form(paths: DataPaths, case_id: str) -> dict[str, object]:
    with LocalStore(paths, vault=make_vault()) as store:
        return store.load_case(case_id).form


def test_typing_a_burst_saves_once_not_per_keystroke(qtbot: QtBot, desk: KycDeskApp,
                                                     paths: DataPaths) -> None:
    editor = _new_editor(qtbot, desk)
    saves: list[int] = []
    editor.autosave.savedRevision.connect(saves.append)
    qtbot.keyClicks(_line(editor, "applicant.first_name"), "Amara")
    qtbot.keyClicks(_line(editor, "applicant.last_name"), "Okafor")
    assert editor.autosave.saves_requested == 0  # debounce still running
    qtbot.waitUntil(lambda: saves == [1], timeout=5000)
    assert editor.autosave.saves_requested == 1
    assert editor.save_label.text().startswith("Saved ")
    desk.shutdown()
    assert _saved_form(paths, editor.case_id) == {"applicant.first_name": "Amara",
                                                  "applicant.last_name": "Okafor"}


def test_every_keystroke_is_written_ahead_before_the_save(qtbot: QtBot, paths: DataPaths
                                                          ) -> None:
    app = _make_app(qtbot, paths, debounce_ms=60_000)  # the debounce never fires here
    try:
        editor = _new_editor(qtbot, app)
        qtbot.keyClicks(_line(editor, "applicant.first_name"), "Ada")
        client = app.writer_thread.client  # type: ignore[union-attr]
        qtbot.waitUntil(lambda: client.pending_count() == 0)
        assert editor.autosave.saves_requested == 0
        with LocalStore(paths,
                        vault=make_vault()) as store:  # a second connection sees the write-ahead
            case = store.load_case(editor.case_id)
        assert case.form == {"applicant.first_name": "Ada"}
        assert case.replayed_edits == 3  # "A", "Ad", "Ada"
        assert case.revision == 0
    finally:
        app.shutdown()


def test_step_navigation_saves_at_once_and_remembers_the_step(qtbot: QtBot, paths: DataPaths
                                                              ) -> None:
    app = _make_app(qtbot, paths, debounce_ms=60_000)
    try:
        editor = _new_editor(qtbot, app)
        qtbot.keyClicks(_line(editor, "applicant.first_name"), "Bilal")
        with qtbot.waitSignal(editor.autosave.savedRevision, timeout=5000):
            qtbot.mouseClick(editor.next_button, Qt.MouseButton.LeftButton)
        assert editor.current_step() == 1
        case_id = editor.case_id
    finally:
        app.shutdown()
    with LocalStore(paths, vault=make_vault()) as store:
        case = store.load_case(case_id)
    assert case.current_step == "identity" and case.revision == 1
    reopened = _make_app(qtbot, paths)
    try:
        reopened_editor = reopened.open_case(case_id)
        assert isinstance(reopened_editor, CaseEditor)
        assert reopened_editor.current_step() == 1
    finally:
        reopened.shutdown()


def test_closing_the_case_tab_saves(qtbot: QtBot, paths: DataPaths) -> None:
    app = _make_app(qtbot, paths, debounce_ms=60_000)
    editor = _new_editor(qtbot, app)
    qtbot.keyClicks(_line(editor, "applicant.last_name"), "Mensah")
    case_id = editor.case_id
    with qtbot.waitSignal(editor.autosave.savedRevision, timeout=5000):
        app.window.close_tab(app.window.tabs.indexOf(editor))
    app.shutdown()
    with LocalStore(paths, vault=make_vault()) as store:
        case = store.load_case(case_id)
    assert case.form == {"applicant.last_name": "Mensah"} and case.revision == 1


def test_quitting_saves_every_open_case(qtbot: QtBot, paths: DataPaths) -> None:
    app = _make_app(qtbot, paths, debounce_ms=60_000)
    first = _new_editor(qtbot, app)
    qtbot.keyClicks(_line(first, "applicant.first_name"), "One")
    second = _new_editor(qtbot, app)
    qtbot.keyClicks(_line(second, "applicant.first_name"), "Two")
    app.shutdown()
    with LocalStore(paths, vault=make_vault()) as store:
        assert store.load_case(first.case_id).revision == 1
        assert store.load_case(second.case_id).form == {"applicant.first_name": "Two"}


def test_minimise_saves(qtbot: QtBot, paths: DataPaths) -> None:
    app = _make_app(qtbot, paths, debounce_ms=60_000)
    try:
        editor = _new_editor(qtbot, app)
        qtbot.keyClicks(_line(editor, "applicant.first_name"), "Min")
        with qtbot.waitSignal(editor.autosave.savedRevision, timeout=5000):
            app.window.minimised.emit()
    finally:
        app.shutdown()


def test_photo_import_and_delete_save_the_draft_at_once(qtbot: QtBot, paths: DataPaths,
                                                        jpeg: Path) -> None:
    app = _make_app(qtbot, paths, debounce_ms=60_000)
    try:
        editor = _new_editor(qtbot, app)
        qtbot.keyClicks(_line(editor, "applicant.first_name"), "Photo")
        with qtbot.waitSignals([editor.session.photosChanged, editor.autosave.savedRevision],
                               timeout=10_000):
            editor.photos.import_files("id_front", [jpeg])
        assert editor.model.photo_count("id_front") == 1
        slot = editor.photos.slots["id_front"]
        assert slot.count_label.text() == "1 of 1–2"
        image = editor.session.photos["id_front"].images[0]
        assert image.location.known is False  # the test JPEG has no GPS: shown as missing
        qtbot.keyClicks(_line(editor, "applicant.first_name"), "!")
        with qtbot.waitSignals([editor.session.photosChanged, editor.autosave.savedRevision],
                               timeout=10_000):
            editor.photos.delete(image.id)
        assert editor.model.photo_count("id_front") == 0
    finally:
        app.shutdown()


def _capture_modes(editor: CaseEditor) -> list[int]:
    """Modes of the captures the panel hands to the session (before the store has them);
    a capture that is not encrypted (a clear JPEG or anything without our header) shows
    as -1."""
    modes: list[int] = []
    add_photos = editor.session.add_photos

    def spy(slot: str, files: list[Path], **kwargs: Any) -> int:
        modes.extend(file.stat().st_mode & 0o777 if file.read_bytes()[:4] == b"KYCF" else -1
                     for file in files)
        return add_photos(slot, files, **kwargs)

    editor.session.add_photos = spy  # type: ignore[method-assign]
    return modes


def _take_photo(qtbot: QtBot, editor: CaseEditor, slot: str) -> None:
    """What the verifier does: "Take photo" on the slot opens the viewfinder; once the
    camera's picture shows, "Take photo" there."""
    editor.photos.slots[slot].capture_button.click()
    viewfinder = editor.photos.viewfinder
    assert viewfinder is not None and viewfinder.slot == slot
    qtbot.waitUntil(lambda: viewfinder.view.frames_shown > 0, timeout=5_000)
    viewfinder.take_button.click()


def test_camera_capture_stores_photo_with_position(qtbot: QtBot, desk: KycDeskApp,
                                                   system_temp: Path) -> None:
    """Through the app's real wiring: the camera comes from the app's camera factory (the
    seam the QtMultimedia camera uses), the verifier presses "Take photo"."""
    editor = _new_editor(qtbot, desk)
    modes = _capture_modes(editor)
    slot = editor.photos.slots["selfie"]
    assert slot.capture_button.isVisibleTo(slot)
    with qtbot.waitSignal(editor.session.photosChanged, timeout=10_000):
        _take_photo(qtbot, editor, "selfie")
    [image] = editor.session.photos["selfie"].images
    assert image.source == "camera" and image.captured_at_source == "camera"
    stored = desk.paths.absolute(image.file_path)
    assert stored.is_file() and stored.parent == desk.paths.case_dir(editor.case_id)
    assert image.location.latitude == pytest.approx(51.5074)
    assert image.location.accuracy == 8.0
    captures = desk.paths.captures_dir
    assert modes == [0o600] and captures.stat().st_mode & 0o777 == 0o700
    assert list(captures.iterdir()) == [], "the capture is removed once stored"
    assert not system_temp.exists()


def test_a_refused_capture_leaves_no_file_behind(qtbot: QtBot, paths: DataPaths,
                                                 system_temp: Path) -> None:
    """An ID photo the store refuses (here: not a photo at all) is not kept either."""
    app = _make_app(qtbot, paths, camera_factory=lambda: FakeCamera(content=b"garbage"))
    try:
        editor = _new_editor(qtbot, app)
        modes = _capture_modes(editor)
        slot = editor.photos.slots["selfie"]
        with qtbot.waitSignal(editor.session.photoError, timeout=10_000):
            _take_photo(qtbot, editor, "selfie")
        assert "camera photo was not added" in slot.error_label.text()
        assert modes == [0o600]
        assert list(paths.captures_dir.iterdir()) == []
        assert not system_temp.exists()
    finally:
        app.shutdown()


def test_a_capture_into_a_full_slot_leaves_no_file_behind(qtbot: QtBot, desk: KycDeskApp,
                                                          system_temp: Path) -> None:
    editor = _new_editor(qtbot, desk)
    slot = editor.photos.slots["selfie"]
    full = editor.session.slot_fields["selfie"].max_count
    for _ in range(full):
        with qtbot.waitSignal(editor.session.photosChanged, timeout=10_000):
            _take_photo(qtbot, editor, "selfie")
    assert not slot.capture_button.isEnabled()
    # The button is disabled now; a capture still arrives if the viewfinder was opened
    # before the slot filled up (two quick presses): the panel's own entry point.
    with qtbot.waitSignal(editor.session.photoError, timeout=10_000):
        editor.photos.capture("selfie")
        assert editor.photos.viewfinder is not None
        editor.photos.viewfinder.take_button.click()
    qtbot.waitUntil(lambda: not any(desk.paths.captures_dir.iterdir()), timeout=10_000)
    assert editor.session.photos["selfie"].rowCount() == full
    assert not system_temp.exists()


@pytest.mark.parametrize(("name", "content", "reason"), [
    ("empty.jpg", b"", "The file is empty."),
    ("notes.jpg", b"Dear verifier,\n" * 40, "not a photo"),
    ("cut.jpg", None, "incomplete"),
])
def test_bad_file_import_shows_the_reason_and_changes_nothing(
        qtbot: QtBot, desk: KycDeskApp, tmp_path: Path, jpeg: Path, name: str,
        content: bytes | None, reason: str) -> None:
    editor = _new_editor(qtbot, desk)
    qtbot.keyClicks(_line(editor, "applicant.first_name"), "Kept")
    bad = tmp_path / name
    bad.write_bytes(content if content is not None else jpeg.read_bytes()[:3000])
    slot = editor.photos.slots["id_front"]
    with qtbot.waitSignal(editor.session.photoError, timeout=10_000):
        editor.photos.import_files("id_front", [bad])
    qtbot.waitUntil(lambda: slot.error_label.isVisibleTo(slot))
    assert name in slot.error_label.text() and reason in slot.error_label.text()
    assert editor.model.photo_count("id_front") == 0
    assert editor.model.value("applicant.first_name") == "Kept"


def test_too_many_photos_for_a_slot_are_refused_with_a_message(
        qtbot: QtBot, desk: KycDeskApp, jpeg: Path) -> None:
    editor = _new_editor(qtbot, desk)
    with qtbot.waitSignal(editor.session.photosChanged, timeout=10_000):
        editor.photos.import_files("selfie", [jpeg, jpeg])  # the slot takes one
    slot = editor.photos.slots["selfie"]
    assert "at most 1" in slot.error_label.text()
    assert editor.model.photo_count("selfie") == 1
    assert not slot.import_button.isEnabled()


def test_a_bad_file_among_several_does_not_cost_a_good_one(
        qtbot: QtBot, desk: KycDeskApp, tmp_path: Path, jpeg: Path) -> None:
    """Dropped together onto a one-photo slot: the bad file is refused by name and the
    good one after it takes its place (the room was counted before the files were
    checked, and the good one was dropped without a word)."""
    editor = _new_editor(qtbot, desk)
    bad = tmp_path / "notes.jpg"
    bad.write_bytes(b"Dear verifier,\n" * 40)
    slot = editor.photos.slots["selfie"]
    with qtbot.waitSignal(editor.session.photosChanged, timeout=10_000):
        editor.photos.import_files("selfie", [bad, jpeg])
    assert editor.model.photo_count("selfie") == 1
    assert "notes.jpg was not added" in slot.error_label.text()
    assert not editor.session.busy()


def test_every_refused_file_is_reported_not_only_the_last(
        qtbot: QtBot, desk: KycDeskApp, tmp_path: Path, jpeg: Path) -> None:
    editor = _new_editor(qtbot, desk)
    files = []
    for name in ("empty.jpg", "notes.jpg"):
        files.append(tmp_path / name)
        files[-1].write_bytes(b"" if name == "empty.jpg" else b"Dear verifier,\n" * 40)
    files += [jpeg, jpeg, jpeg]  # the slot takes two: the third is refused by name
    slot = editor.photos.slots["id_front"]
    editor.photos.import_files("id_front", files)
    qtbot.waitUntil(lambda: not editor.session.busy()
                    and editor.model.photo_count("id_front") == 2, timeout=20_000)
    text = slot.error_label.text()
    assert "empty.jpg was not added" in text and "notes.jpg was not added" in text
    assert f"1 file(s) were not added: {jpeg.name}" in text
    assert len(slot.errors) == 3


def test_a_question_appearing_above_does_not_move_the_field_in_use(
        qtbot: QtBot, desk: KycDeskApp) -> None:
    """"Second nationality" appears above the e-mail field the verifier is typing in:
    the page scrolls by the new question's height, so the e-mail field stays put."""
    from PySide6.QtCore import QPoint
    from PySide6.QtWidgets import QScrollArea

    desk.window.resize(1366, 768)
    editor = _new_editor(qtbot, desk)
    email = _line(editor, "applicant.email")
    second = editor.editors["applicant.second_nationality"]
    scroll = editor.pages.currentWidget()
    assert isinstance(scroll, QScrollArea)
    desk.window.show()
    qtbot.waitExposed(desk.window)
    email.setFocus()
    qtbot.waitUntil(email.hasFocus)
    scroll.ensureWidgetVisible(email, 0, 300)
    qtbot.waitUntil(lambda: scroll.verticalScrollBar().value() > 0)

    def on_screen() -> int:
        return email.mapTo(scroll.viewport(), QPoint(0, 0)).y()

    page = scroll.widget()
    assert page is not None

    def in_page() -> int:
        return email.mapTo(page, QPoint(0, 0)).y()

    before_screen, before_page = on_screen(), in_page()
    editor.model.set_value("applicant.has_second_nationality", True)
    # It moves down the page by the new question's height…
    qtbot.waitUntil(lambda: second.isVisible() and in_page() - before_page >= second.height())
    assert on_screen() == before_screen  # …and not on the screen
    editor.model.set_value("applicant.has_second_nationality", False)
    qtbot.waitUntil(lambda: in_page() == before_page)
    assert on_screen() == before_screen


def test_every_photo_cell_shows_its_whole_caption_also_after_adding_one(
        qtbot: QtBot, desk: KycDeskApp, jpeg: Path) -> None:
    """A photo added to a shown slot made the view re-measure its cells from the newest
    (a placeholder): every cell shrank and "Location ✓" was cut off under each photo."""
    editor = _new_editor(qtbot, desk)
    desk.window.show()
    qtbot.waitExposed(desk.window)
    editor.go_to_step(editor.definition.step_index_of("photos.id_front"))
    slot = editor.photos.slots["id_front"]
    for _ in range(2):
        with qtbot.waitSignal(editor.session.photosChanged, timeout=10_000):
            editor.photos.import_files("id_front", [jpeg])
    view = slot.view
    line = view.fontMetrics().height()
    needed = view.iconSize().height() + line + 4  # the thumbnail and a line of caption
    qtbot.waitUntil(lambda: all(view.visualRect(view.model().index(row, 0)).height() >= needed
                                for row in range(2)))
    for row in range(2):
        cell = view.visualRect(view.model().index(row, 0))
        text = view.model().index(row, 0).data()
        assert view.fontMetrics().horizontalAdvance(text) < cell.width()


def test_conditional_field_appears_when_its_condition_holds(qtbot: QtBot, desk: KycDeskApp
                                                            ) -> None:
    editor = _new_editor(qtbot, desk)
    editor.go_to_step(4)  # PEP and sanctions
    pep = editor.editors["declarations.pep"]
    role = editor.editors["declarations.pep_role"]
    assert isinstance(pep, YesNoEditor)
    assert not role.isVisibleTo(editor)
    qtbot.mouseClick(pep.yes, Qt.MouseButton.LeftButton)
    assert editor.model.value("declarations.pep") is True
    assert role.isVisibleTo(editor)
    qtbot.mouseClick(pep.no, Qt.MouseButton.LeftButton)
    assert editor.model.value("declarations.pep") is False
    assert not role.isVisibleTo(editor)


def test_inline_error_shows_after_a_bad_value(qtbot: QtBot, desk: KycDeskApp) -> None:
    editor = _new_editor(qtbot, desk)
    qtbot.keyClicks(_line(editor, "applicant.email"), "not-an-email")
    error = editor.editors["applicant.email"].error_label
    assert error.isVisibleTo(editor) and "email address" in error.text()
    _line(editor, "applicant.email").clear()
    qtbot.keyClicks(_line(editor, "applicant.email"), "amara@example.org")
    assert not error.isVisibleTo(editor)


def test_submit_is_blocked_and_jumps_to_the_first_problem(qtbot: QtBot, desk: KycDeskApp,
                                                          paths: DataPaths) -> None:
    editor = _new_editor(qtbot, desk)
    editor.go_to_step(5)
    submit = editor.submit_button
    assert isinstance(submit, QPushButton)
    qtbot.mouseClick(submit, Qt.MouseButton.LeftButton)
    assert editor.current_step() == 0
    first = editor.editors["applicant.first_name"]
    assert first.error_label.text() == "Required."
    assert "need attention" in editor.message_label.text()
    assert "⚠" in editor.step_list.item(0).text()
    assert editor.status == CaseStatus.DRAFT
    desk.shutdown()
    with LocalStore(paths, vault=make_vault()) as store:
        assert store.load_case(editor.case_id).status == "DRAFT"


def test_the_attention_line_follows_the_answers_and_goes_when_fixed(
        qtbot: QtBot, desk: KycDeskApp, jpeg: Path) -> None:
    """It used to stay, stale, after the verifier had fixed every answer it counted."""
    editor = _new_editor(qtbot, desk)
    _fill_valid(editor)
    for slot in ("id_front", "id_back", "selfie"):
        with qtbot.waitSignal(editor.session.photosChanged, timeout=10_000):
            editor.photos.import_files(slot, [jpeg])
    line = _line(editor, "applicant.first_name")
    line.selectAll()
    qtbot.keyClick(line, Qt.Key.Key_Backspace)
    assert not editor.submit()
    assert list(editor.model.problems()) == ["applicant.first_name", "photos.address_proof"]
    assert editor.message_label.text().startswith("2 answers need attention")
    qtbot.keyClicks(_line(editor, "applicant.first_name"), "Amara")
    assert editor.message_label.text().startswith("1 answer needs attention")
    with qtbot.waitSignal(editor.session.photosChanged, timeout=10_000):
        editor.photos.import_files("address_proof", [jpeg])
    assert editor.message_label.text() == ""
    assert editor.status == CaseStatus.DRAFT  # nothing submitted by itself


def _fill_valid(editor: CaseEditor) -> None:
    """Answer every visible required field through the model (the form is long)."""
    model = editor.model
    for field in editor.definition.fields():
        if field.kind.value == "photo" or not field.required:
            continue
        if not model.is_visible(field.key):
            continue
        model.set_value(field.key, _valid_value(field))


def _valid_value(field: object) -> object:
    from kycdesk.core.form_schema import FieldDef
    from kycdesk.core.signature import signature_value

    assert isinstance(field, FieldDef)
    kind = field.kind.value
    samples: dict[str, object] = {
        "text": "Sample", "multiline": "Sample text", "integer": 1, "decimal": "100.00",
        "date": "2020-01-01", "yes_no": False, "phone": "+44 7700 900123",
        "email": "a@example.org",
        "signature": signature_value(
            [[(10.0 + 9 * i, 40.0 + 20 * (i % 2), 16 * i, 0.5) for i in range(12)]],
            560, 180, b"PNG bytes", "2026-12-06T05:00:00.000Z"),
    }
    if field.key == "identity.expiry_date":
        return "2035-01-01"
    if field.key.endswith(("postcode", "postal_code")):
        return "LS1 4AP"
    if kind == "id_number":
        return {"identity.document_number": "AB123456",
                "verifier.employee_id": "V12345"}.get(field.key, "AB123456")
    if kind == "single_choice":
        return field.options[0].value
    if kind == "multi_choice":
        return [field.options[0].value]
    if field.key.endswith(("truthful", "in_person", "data_protection",
                           "photo_matches_applicant", "name_matches_application",
                           "seen_original", "residence_confirmed", "correspondence_same")):
        return True
    return samples[kind]


def test_valid_case_submits_and_becomes_read_only(qtbot: QtBot, desk: KycDeskApp,
                                                  jpeg: Path, image_dir: Path) -> None:
    editor = _new_editor(qtbot, desk)
    _fill_valid(editor)
    for slot in ("id_front", "id_back", "selfie", "address_proof"):
        with qtbot.waitSignal(editor.session.photosChanged, timeout=10_000):
            editor.photos.import_files(slot, [jpeg])
    assert editor.model.problems() == {}
    with qtbot.waitSignal(editor.submitted, timeout=10_000):
        assert editor.submit()
    assert editor.status == CaseStatus.READY
    assert editor.model.read_only and not editor.submit_button.isVisible()
    assert not editor.model.set_value("applicant.first_name", "changed")
    assert _line(editor, "applicant.first_name").isReadOnly()
    assert not editor.photos.slots["site"].import_button.isEnabled()
    assert "locked" in editor.banner.text()


def test_synced_case_opens_read_only(qtbot: QtBot, paths: DataPaths) -> None:
    with LocalStore(paths, vault=make_vault()) as store:
        case_id = store.run(CreateCase(reference_number="KYC-S", form_id="individual_kyc",
                                    form_version="2"))
        store.run(SaveForm(case_id, {"applicant.first_name": "Sam"}))
        transitions.submit(store, case_id)
        transitions.mark_synced(store, case_id)
    app = _make_app(qtbot, paths)
    try:
        editor = app.open_case(case_id)
        assert editor is not None and editor.model.read_only
        assert "read-only" in editor.banner.text()
        assert _line(editor, "applicant.first_name").isReadOnly()
        assert _line(editor, "applicant.first_name").text() == "Sam"
    finally:
        app.shutdown()


def test_v1_draft_opens_under_v2_with_every_value(qtbot: QtBot, paths: DataPaths) -> None:
    with LocalStore(paths, vault=make_vault()) as store:
        case_id = store.run(CreateCase(reference_number="KYC-OLD", form_id="individual_kyc",
                                    form_version="1"))
        store.run(SaveForm(case_id, {"applicant.first_name": "Olu",
                                  "applicant.phone_mobile": "+44 7700 900999",
                                  "applicant.previous_names": "Olu Adeyemi"}))
        store.run(AppendEdit(case_id, "address.postcode", "BS1 4DJ"))  # unsaved v1 edit
    app = _make_app(qtbot, paths)
    try:
        editor = app.open_case(case_id)
        assert editor is not None
        assert editor.definition.version == "3"
        assert _line(editor, "applicant.mobile_phone").text() == "+44 7700 900999"
        editor.go_to_step(2)
        assert _line(editor, "address.postal_code").text() == "BS1 4DJ"
        assert "version 1" in editor.banner.text()
        kept = editor.findChild(QLabel, "kept-values")
        assert kept is not None and "Olu Adeyemi" in kept.text()
        with qtbot.waitSignal(editor.autosave.savedRevision, timeout=5000):
            editor.flush()
    finally:
        app.shutdown()
    with LocalStore(paths, vault=make_vault()) as store:
        case = store.load_case(case_id)
    assert case.form_version == "3"
    assert case.form["applicant.mobile_phone"] == "+44 7700 900999"
    assert case.form["address.postal_code"] == "BS1 4DJ"
    assert case.form["applicant.previous_names"] == "Olu Adeyemi"


def test_submit_waits_for_photos_still_being_added(qtbot: QtBot, desk: KycDeskApp,
                                                   jpeg: Path) -> None:
    editor = _new_editor(qtbot, desk)
    with qtbot.waitSignal(editor.session.photosChanged, timeout=10_000):
        editor.photos.import_files("id_front", [jpeg])
        assert editor.photos.busy()
        assert editor.submit() is False
        assert "still being added" in editor.message_label.text()
    qtbot.waitUntil(lambda: not editor.photos.busy())


def test_without_a_camera_slots_offer_file_import_only(qtbot: QtBot, paths: DataPaths) -> None:
    app = _make_app(qtbot, paths, camera_factory=NoCamera)
    try:
        editor = _new_editor(qtbot, app)
        slot = editor.photos.slots["selfie"]
        assert not slot.capture_button.isVisibleTo(slot)
        assert slot.import_button.isVisibleTo(slot)
    finally:
        app.shutdown()


def test_a_failed_capture_says_why_and_stores_nothing(qtbot: QtBot, paths: DataPaths) -> None:
    camera = FakeCamera(fail="The camera is in use by another app.")
    app = _make_app(qtbot, paths, camera_factory=lambda: camera)
    try:
        editor = _new_editor(qtbot, app)
        _take_photo(qtbot, editor, "selfie")
        assert camera.captures == 1
        viewfinder = editor.photos.viewfinder
        assert viewfinder is not None and viewfinder.isVisible(), "it stays open to retry"
        assert "in use by another app" in viewfinder.error_label.text()
        assert viewfinder.take_button.isEnabled()
        viewfinder.cancel_button.click()
        assert camera.running is None, "the camera is released"
        assert editor.session.photos["selfie"].rowCount() == 0
    finally:
        app.shutdown()


def test_site_photos_follow_the_forms_size_policy(qtbot: QtBot, desk: KycDeskApp,
                                                  tmp_path: Path) -> None:
    from tests.sync_support import noisy_jpeg

    big = noisy_jpeg(tmp_path / "site.jpg", (4000, 3000), opacity=0.3, quality=90)
    editor = _new_editor(qtbot, desk)
    assert editor.definition.field("photos.site").max_megapixels == 3
    with qtbot.waitSignal(editor.session.photosChanged, timeout=20_000):
        editor.photos.import_files("site", [big])
    [image] = editor.session.photos["site"].images
    assert image.width is not None and image.height is not None
    assert image.width * image.height <= 3_000_000


def test_the_signature_date_is_today_when_the_verifier_reaches_the_declaration(
        qtbot: QtBot, desk: KycDeskApp) -> None:
    from datetime import date

    editor = _new_editor(qtbot, desk)
    assert editor.model.value("verifier.signed_on") is None  # not before the step is seen
    editor.go_to_step(len(editor.definition.steps) - 1)
    assert editor.model.value("verifier.signed_on") == date.today().isoformat()


@pytest.mark.parametrize(("kind", "label", "role", "button"), [
    ("transient", "RETRYING", "banner", "Try now"),
    ("permanent", "NEEDS ACTION", "banner-bad", "Retry sync"),
])
def test_a_retried_failure_waits_and_a_refusal_asks_for_action(
        qtbot: QtBot, paths: DataPaths, kind: str, label: str, role: str,
        button: str) -> None:
    from kycdesk.core.errors import FailureKind

    with LocalStore(paths, vault=make_vault()) as store:
        case_id = store.run(CreateCase(reference_number="KYC-W", form_id="individual_kyc",
                                       form_version="2"))
        transitions.submit(store, case_id)
        transitions.fail(store, case_id, "The server is busy or failing (503).",
                         kind=FailureKind(kind), next_attempt_at="2026-11-26T10:30:00Z")
    app = _make_app(qtbot, paths)
    try:
        editor = app.open_case(case_id)
        assert editor is not None
        assert label in editor.title_label.text()
        assert editor.banner.property("role") == role
        assert editor.retry_button.text() == button
        text = editor.banner.text()
        assert ".." not in text and "(503)." in text
        if kind == "transient":
            assert text.startswith("Waiting to be sent:") and "tries again by itself at" in text
        else:
            assert text.startswith("Needs action:")
        listed = app.model.index(0, 2).data()
        assert listed.startswith(f"{label}: ")
    finally:
        app.shutdown()


def _date_editor(editor: CaseEditor, key: str) -> DateEditor:
    editor.go_to_step(editor.definition.step_index_of(key))
    widget = editor.editors[key]
    assert isinstance(widget, DateEditor)
    return widget


def test_typed_dates_are_understood_and_bad_ones_kept_with_an_error(
        qtbot: QtBot, desk: KycDeskApp) -> None:
    editor = _new_editor(qtbot, desk)
    birth = _date_editor(editor, "applicant.date_of_birth")
    qtbot.keyClicks(birth.line, "14/03/1988")
    assert editor.model.value("applicant.date_of_birth") == "1988-03-14"
    birth.line.editingFinished.emit()
    assert birth.line.text() == "1988-03-14"  # shown in the form's format once typed
    birth.line.clear()
    qtbot.keyClicks(birth.line, "31/02/1988")  # not a real day: kept as typed, flagged
    assert editor.model.value("applicant.date_of_birth") == "31/02/1988"
    assert birth.line.text() == "31/02/1988"
    assert editor.model.error("applicant.date_of_birth") == "February 1988 has 29 days."
    birth.clear.click()
    assert editor.model.value("applicant.date_of_birth") is None


def test_the_calendar_opens_where_a_person_needs_it(qtbot: QtBot, desk: KycDeskApp) -> None:
    from PySide6.QtCore import QDate

    editor = _new_editor(qtbot, desk)
    birth = _date_editor(editor, "applicant.date_of_birth")
    calendar = birth.open_calendar()
    assert calendar.selectedDate().year() == QDate.currentDate().year() - 30
    assert min(calendar.width(), calendar.height()) >= 44 * 7  # touch-sized cells
    calendar.clicked.emit(QDate(1988, 3, 14))
    assert editor.model.value("applicant.date_of_birth") == "1988-03-14"
    birth.line.setText("31.02.1977")  # no such day, but the year is plain: open there
    assert birth.open_calendar().selectedDate().year() == 1977
    issued = _date_editor(editor, "identity.issue_date")
    assert issued.open_calendar().selectedDate() == QDate.currentDate()
    issued.today.click()
    assert editor.model.value("identity.issue_date") == QDate.currentDate().toString(
        "yyyy-MM-dd")
    assert not any(str(v).startswith(("1800", "1801")) for v in editor.model.values().values())


def test_a_journaled_keystroke_says_saved_on_this_device(qtbot: QtBot, paths: DataPaths) -> None:
    app = _make_app(qtbot, paths, debounce_ms=60_000)  # no debounced save in this test
    try:
        editor = _new_editor(qtbot, app)
        qtbot.keyClicks(_line(editor, "applicant.first_name"), "A")
        qtbot.waitUntil(lambda: editor.save_label.text() == "Saved on this device")
        assert editor.autosave.saves_requested == 0  # the write-ahead alone
    finally:
        app.shutdown()


def test_a_validation_message_does_not_move_the_fields_below(qtbot: QtBot,
                                                             desk: KycDeskApp) -> None:
    editor = _new_editor(qtbot, desk)
    desk.window.show()
    qtbot.waitExposed(desk.window)
    email = editor.editors["applicant.email"]
    below = editor.editors["applicant.mobile_phone"]
    before = below.mapTo(editor, below.rect().topLeft()).y()
    qtbot.keyClicks(_line(editor, "applicant.email"), "not-an-email")
    qtbot.waitUntil(email.error_label.isVisible)
    assert below.mapTo(editor, below.rect().topLeft()).y() == before


def test_the_chosen_answer_is_unmistakable_and_focusable(qtbot: QtBot,
                                                          desk: KycDeskApp) -> None:
    editor = _new_editor(qtbot, desk)
    desk.window.show()
    qtbot.waitExposed(desk.window)
    editor.go_to_step(4)
    pep = editor.editors["declarations.pep"]
    assert isinstance(pep, YesNoEditor)
    qtbot.mouseClick(pep.no, Qt.MouseButton.LeftButton)
    assert (pep.no.text(), pep.yes.text()) == ("✓ No", "Yes")  # not by colour alone
    editor.reveal("declarations.pep")
    qtbot.waitUntil(pep.yes.hasFocus)  # jump-to-error lands on a control


def test_touch_targets_are_at_least_44_pixels(qtbot: QtBot, desk: KycDeskApp) -> None:
    editor = _new_editor(qtbot, desk)
    desk.window.show()
    qtbot.waitExposed(desk.window)
    close = desk.window.findChild(QToolButton, "tab-close")
    assert close is not None and min(close.width(), close.height()) >= 44
    editor.go_to_step(1)  # identity: drop-downs, dates, check boxes
    for widget in editor.findChildren(QWidget):
        if isinstance(widget, QPushButton | QComboBox | QCheckBox | QLineEdit) \
                and widget.isVisible():
            assert widget.height() >= 44, (widget.objectName(), type(widget).__name__)
