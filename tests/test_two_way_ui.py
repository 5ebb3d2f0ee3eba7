"""What the office sent, on the device's screens: "Assigned to you" and "Returned to you",
comments at their fields and photos, prefilled marks, decisions, handovers and the
conflict chooser — real widgets offscreen over a real store, the state made by applying
pull pages with the store's own command."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from kycdesk.app import KycDeskApp
from kycdesk.core.protocol import PulledChange, PullReply
from kycdesk.core.states import CaseStatus, CaseView
from kycdesk.demo import generate
from kycdesk.models.case_list_model import CaseListModel
from kycdesk.paths import DataPaths
from kycdesk.persistence.store import LocalStore
from kycdesk.views.case_editor import CaseEditor
from kycdesk.views.field_widgets import TextEditor
from kycdesk.views.style import TOUCH
from kycdesk.views.sync_panel import CHECKING_TEXT, SyncPanel
from tests import two_way_cases
from tests.desks import started_desk
from tests.two_way_cases import Desk, at, pull
from tests.vaults import make_vault


@pytest.fixture
def seeded(paths: DataPaths) -> Desk:
    with LocalStore(paths, vault=make_vault()) as store:
        made = generate(store, cases=3, images_per_case=2, status="synced", seed=5,
                        image_size=(400, 300))
        return two_way_cases.seed(store, made.case_ids)


@pytest.fixture
def desk(qtbot: QtBot, paths: DataPaths, seeded: Desk) -> Iterator[KycDeskApp]:
    app = started_desk(qtbot, paths)
    app.window.resize(1366, 728)
    yield app
    app.shutdown()


def _open(qtbot: QtBot, desk: KycDeskApp, case_id: str) -> CaseEditor:
    with qtbot.waitSignal(desk.caseOpened, timeout=10_000):
        editor = desk.open_case(case_id)
    assert isinstance(editor, CaseEditor)
    return editor


def test_assigned_to_you_lists_due_dates_soonest_first_and_says_overdue(
        qtbot: QtBot, desk: KycDeskApp, seeded: Desk) -> None:
    page = desk.window.list_page
    button = page.inbox_buttons[CaseView.ASSIGNED]
    assert button.isVisibleTo(page) and button.text() == "Assigned to you · 4"
    assert page.inbox_buttons[CaseView.RETURNED].text() == "Returned to you · 1"
    assert button.height() >= TOUCH
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: desk.model.rowCount() == 4)
    assert page.filter.currentText() == "Assigned to you (4)"
    shown = [desk.model.case_at(row).id for row in range(4)]
    assert shown == seeded.assigned  # soonest due first
    due = [desk.model.index(row, 5).data() for row in range(4)]
    assert due[0].startswith("Overdue by 2 days (was due ")  # in words, not only red
    assert due[1].startswith("Due tomorrow")
    assert desk.model.index(0, 5).data(Qt.ItemDataRole.ForegroundRole) is not None
    assert desk.model.index(1, 5).data(Qt.ItemDataRole.ForegroundRole) is None
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)  # again: every case
    qtbot.waitUntil(lambda: page.filter.currentData() is None)


def test_returned_case_shows_each_comment_at_its_field_and_photo_and_goes_there(
        qtbot: QtBot, desk: KycDeskApp, seeded: Desk) -> None:
    page = desk.window.list_page
    page.show_view(CaseView.RETURNED)
    qtbot.waitUntil(lambda: desk.model.rowCount() == 1)
    assert desk.model.index(0, 5).data().startswith("Returned to you")
    editor = _open(qtbot, desk, seeded.returned)
    assert editor.session.editable  # a returned case is a draft again
    comments = editor.review.comments
    assert comments.count() == 4 and editor.review.isVisibleTo(editor)
    assert comments.item(0).text().startswith("Email:  The email address bounces")
    assert comments.item(3).text().startswith("The whole case:  Everything else")
    email = editor.editors["applicant.email"]
    assert email.comment_label.isVisibleTo(email)
    assert "bounces" in email.comment_label.text()
    assert not editor.editors["applicant.first_name"].comment_label.isVisibleTo(editor)

    # Keyboard: the second comment, Enter -> its field, focused.
    desk.window.show()
    qtbot.waitExposed(desk.window)
    comments.setFocus()
    comments.setCurrentRow(1)
    qtbot.keyClick(comments, Qt.Key.Key_Return)
    birth = editor.editors["applicant.date_of_birth"]
    qtbot.waitUntil(lambda: birth.isAncestorOf(QApplication.focusWidget() or editor))
    assert editor.current_step() == editor.definition.step_index_of(
        "applicant.date_of_birth")
    assert "does not match" in birth.comment_label.text()

    # A click on the photo's comment: its step, its slot, that photo selected.
    rect = comments.visualItemRect(comments.item(2))
    comments.scrollToItem(comments.item(2))
    rect = comments.visualItemRect(comments.item(2))
    qtbot.mouseClick(comments.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    slot = editor.photos.slot_of(seeded.photo_commented)
    assert slot is not None
    widget = editor.photos.slots[slot]
    qtbot.waitUntil(lambda: widget.view.currentIndex().isValid())
    assert editor.pages.currentIndex() == editor.definition.step_index_of(
        editor.session.slot_fields[slot].key)
    assert widget.comment_label.isVisibleTo(widget)
    assert widget.comment_label.text().startswith("Reviewer on photo 1: Glare")
    assert "✎" in editor.step_list.item(0).text()  # the step with comments says so


def test_the_photo_viewer_shows_the_comment_on_that_photo(
        qtbot: QtBot, desk: KycDeskApp, seeded: Desk) -> None:
    from kycdesk.views.photo_viewer import PhotoViewer

    editor = _open(qtbot, desk, seeded.returned)
    image = next(i for m in editor.session.photos.values() for i in m.images
                 if i.client_image_id == seeded.photo_commented)
    editor.photos.view(image.id)
    viewer = editor.photos.findChild(PhotoViewer)
    assert viewer is not None
    qtbot.addWidget(viewer)
    note = viewer.findChild(type(editor.title_label), "photo-comments")
    assert note is not None and "Glare" in note.text()
    viewer.close()


def test_prefilled_answers_are_marked_and_stay_editable(
        qtbot: QtBot, desk: KycDeskApp, seeded: Desk) -> None:
    editor = _open(qtbot, desk, seeded.assigned[0])
    first = editor.editors["applicant.first_name"]
    assert first.prefilled_label.isVisibleTo(first)
    assert first.prefilled_label.text() == "Prefilled by the office"
    assert not editor.editors["applicant.date_of_birth"].prefilled_label.isVisibleTo(editor)
    assert isinstance(first, TextEditor) and not first.line.isReadOnly()
    assert "Assigned to you by S. Mensah (office)" in editor.review.info_label.text()
    assert "Overdue by 2 days" in editor.review.info_label.text()
    assert "call first" in editor.review.info_label.text()
    first.line.setFocus()
    first.line.selectAll()
    qtbot.keyClicks(first.line, "Adaeze")
    assert editor.model.value("applicant.first_name") == "Adaeze"


def test_a_conflict_blocks_submit_until_the_verifier_chooses_with_the_keyboard(
        qtbot: QtBot, desk: KycDeskApp, seeded: Desk) -> None:
    desk.window.show()
    qtbot.waitExposed(desk.window)
    editor = _open(qtbot, desk, seeded.conflict)
    (conflict,) = editor.session.open_conflicts()
    chooser = editor.review.choosers[conflict.id]
    assert chooser.server_button.text().startswith("Keep the office's:  ")
    assert conflict.server_value in chooser.server_button.text()
    assert "S. Mensah (office)" in chooser.server_button.text()
    assert conflict.local_value in chooser.local_button.text()
    last = editor.editors["applicant.last_name"]
    assert "choose which value to keep" in last.comment_label.text()

    assert editor.submit() is False
    assert editor.message_label.text() == ("Not submitted: the office also changed "
                                           "“Last name”. Choose the value to keep, at the "
                                           "top of the case.")
    qtbot.waitUntil(chooser.server_button.hasFocus)  # Submit put the focus on the choice
    qtbot.keyClick(chooser.server_button, Qt.Key.Key_Right)
    qtbot.waitUntil(chooser.local_button.hasFocus)
    qtbot.keyClick(chooser.local_button, Qt.Key.Key_Left)
    qtbot.waitUntil(chooser.server_button.hasFocus)
    with qtbot.waitSignal(editor.session.twoWayChanged, timeout=10_000):
        qtbot.keyClick(chooser.server_button, Qt.Key.Key_Return)
        # Applied by the writer thread: the GUI thread went on at once.
        assert editor.session.resolving(conflict.id)
        assert not chooser.server_button.isEnabled()
    assert editor.session.open_conflicts() == ()
    assert editor.model.value("applicant.last_name") == conflict.server_value
    assert isinstance(last, TextEditor) and last.line.text() == conflict.server_value
    assert "choose which value" not in last.comment_label.text()
    assert not editor.review.conflicts_scroll.isVisibleTo(editor)
    assert desk.reader is not None
    assert desk.reader.load_case(seeded.conflict).form["applicant.last_name"] == \
        conflict.server_value
    assert desk.reader.read_two_way(seeded.conflict).conflicts == ()
    editor.submit()  # no longer refused for the conflict (other answers are missing)
    assert not editor.message_label.text().startswith("Not submitted: the office")


def test_decisions_show_on_the_case_read_only(
        qtbot: QtBot, desk: KycDeskApp, seeded: Desk) -> None:
    approved = _open(qtbot, desk, seeded.approved)
    assert approved.status == CaseStatus.SYNCED and not approved.session.editable
    text = approved.review.decision_label.text()
    assert text.startswith("Approved by the office (R. Patel (reviewer), ")
    assert text.endswith("Note: Verified against the electoral roll.")
    assert approved.review.decision_label.isVisibleTo(approved)
    rejected = _open(qtbot, desk, seeded.rejected)
    text = rejected.review.decision_label.text()
    assert "Rejected by the office" in text
    assert "Reason: The identity document had expired." in text
    assert not rejected.submit_button.isVisibleTo(rejected)


def test_a_handover_is_one_plain_sentence(qtbot: QtBot, paths: DataPaths,
                                          seeded: Desk) -> None:
    with LocalStore(paths, vault=make_vault()) as store:
        pull(store, PulledChange(seq=next(two_way_cases.SEQ), kind="handover_out",
                                 case_id=seeded.approved, at=at(), by="S. Mensah (office)"))
    app = started_desk(qtbot, paths)
    try:
        editor = _open(qtbot, app, seeded.approved)
        label = editor.review.handover_label
        assert label.isVisibleTo(editor)
        assert label.text().startswith("The office has moved this case to another device")
    finally:
        app.shutdown()


def test_the_sync_strip_says_it_checks_for_work_and_what_came(qtbot: QtBot) -> None:
    panel = SyncPanel()
    qtbot.addWidget(panel)
    panel.show_state("syncing", "")
    assert panel.case_label.text() == CHECKING_TEXT
    panel.show_news(2, 1, 0)
    assert panel.news_label.text() == ("From the office: 2 new cases assigned to you, "
                                       "1 case returned to you")
    panel.show_news(0, 0, 0)
    assert panel.news_label.isHidden()


def test_the_list_model_says_office_work_in_words(qtbot: QtBot, desk: KycDeskApp,
                                                  seeded: Desk) -> None:
    assert CaseListModel.COLUMNS[5] == "From the office"
    desk.window.list_page.show_view(None)
    rows = {desk.model.case_at(r).id: desk.model.index(r, 5).data()
            for r in range(desk.model.rowCount())}
    assert rows[seeded.approved] == "Approved"
    assert rows[seeded.rejected] == "Rejected: The identity document had expired"
    assert rows[seeded.returned] == "Returned to you: see the reviewer's comments"
    assert rows[seeded.assigned[0]].startswith("Overdue by 2 days")


def test_a_decision_pulled_while_the_app_runs_shows_in_the_list(
        qtbot: QtBot, desk: KycDeskApp, seeded: Desk) -> None:
    """A decision changes no status: the pull announces the case all the same, so the
    list (read once per burst of announcements) shows it."""
    from kycdesk.persistence.commands import ApplyPull

    desk.window.list_page.show_view(None)
    assert desk.reader is not None and desk.writer_thread is not None
    revision = desk.reader.load_sync_case(seeded.approved).revision
    reply = PullReply(token="decided-later", more=False, changes=[two_way_cases.decided(
        seeded.approved, revision, "rejected", reason_label="Signature missing")])
    desk.writer_thread.client.submit(ApplyPull(reply, False))

    def shown() -> str:
        rows = {desk.model.case_at(r).id: desk.model.index(r, 5).data()
                for r in range(desk.model.rowCount())}
        return str(rows.get(seeded.approved))

    qtbot.waitUntil(lambda: shown() == "Rejected: Signature missing", timeout=10_000)


def test_a_return_pulled_while_the_case_is_open_shows_at_once_and_is_counted(
        qtbot: QtBot, desk: KycDeskApp, seeded: Desk) -> None:
    """The pull is applied by the app's own writer (as the sync worker's is): the list,
    the open case and the sync strip follow without the GUI thread waiting."""
    from kycdesk.persistence.commands import ApplyPull

    editor = _open(qtbot, desk, seeded.approved)
    assert not editor.session.editable
    desk._note_inbox_before_run("syncing", "")
    reply = PullReply(token="after", more=False, changes=[two_way_cases.returned(
        seeded.approved, editor.session.case.revision,
        [two_way_cases.comment("Please add the second page.", field_key="applicant.email")])])
    assert desk.writer_thread is not None
    with qtbot.waitSignal(editor.session.twoWayChanged, timeout=10_000):
        desk.writer_thread.client.submit(ApplyPull(reply, False))
    qtbot.waitUntil(lambda: editor.session.editable)  # a draft again, with the comment
    assert editor.status == CaseStatus.DRAFT
    assert editor.review.comments.count() == 1
    assert editor.submit_button.isVisibleTo(editor)
    # The list's counts are read once per burst of changes (a timer): wait for that read.
    qtbot.waitUntil(lambda: desk.model.view_counts().get(CaseView.RETURNED) == 2)
    desk._tell_inbox_news(None)
    assert desk.window.sync_panel.news_label.text() == \
        "From the office: 1 case returned to you"
    assert desk.window.list_page.inbox_buttons[CaseView.RETURNED].text() == \
        "Returned to you · 2"


def test_keeping_the_offices_photo_takes_the_verifiers_out_of_the_slot(
        qtbot: QtBot, paths: DataPaths, seeded: Desk, jpeg: Path) -> None:
    from kycdesk.core.protocol import PulledPhoto
    from kycdesk.persistence.commands import AddImage

    case_id = seeded.assigned[1]
    with LocalStore(paths, vault=make_vault()) as store:
        mine = store.run(AddImage(case_id, jpeg, slot="id_front"))
        pull(store, PulledChange(
            seq=next(two_way_cases.SEQ), kind="office_edit", case_id=case_id, at=at(),
            by="S. Mensah (office)", photos=[PulledPhoto(
                client_image_id=str(uuid.uuid4()), server_image_id="srv-1", sha256="a" * 64,
                byte_size=1000, slot="id_front")]))
    app = started_desk(qtbot, paths)
    try:
        editor = _open(qtbot, app, case_id)
        (conflict,) = editor.session.open_conflicts()
        chooser = editor.review.choosers[conflict.id]
        assert "the photo the office added" in chooser.server_button.text()
        assert "the photo taken on this device" in chooser.local_button.text()
        slot = editor.photos.slots["id_front"]
        assert [i.id for i in slot.model.images] == [mine.id]
        with qtbot.waitSignal(editor.session.twoWayChanged, timeout=10_000):
            qtbot.mouseClick(chooser.server_button, Qt.MouseButton.LeftButton)
        assert slot.model.images == []
        assert app.reader is not None and app.reader.list_images(case_id) == []
    finally:
        app.shutdown()


def test_an_office_correction_pulled_while_the_case_is_open_shows_and_survives_autosave(
        qtbot: QtBot, desk: KycDeskApp, seeded: Desk) -> None:
    """An office_edit without a conflict (the verifier had not changed that answer) is
    taken by the store; the open draft must show it, or its next autosave — which
    writes the whole form — would put the old value back, silently."""
    from kycdesk.persistence.commands import ApplyPull

    case_id = seeded.assigned[1]
    editor = _open(qtbot, desk, case_id)
    city = editor.model.value("applicant.last_name")
    assert city and editor.session.editable
    reply = PullReply(token="office-fix", more=False, changes=[two_way_cases.office_edit(
        case_id, "applicant.last_name", city + "-Okafor", city)])
    assert desk.writer_thread is not None and desk.reader is not None
    with qtbot.waitSignal(editor.session.twoWayChanged, timeout=10_000):
        desk.writer_thread.client.submit(ApplyPull(reply, False))
    assert editor.model.value("applicant.last_name") == city + "-Okafor"
    shown = editor.editors["applicant.last_name"]
    assert isinstance(shown, TextEditor) and shown.line.text() == city + "-Okafor"

    # The verifier types into another answer; the autosave writes the whole draft.
    first = editor.editors["applicant.first_name"]
    assert isinstance(first, TextEditor)
    first.line.setFocus()
    first.line.selectAll()
    qtbot.keyClicks(first.line, "Adaeze")
    with qtbot.waitSignal(editor.session.autosave.savedRevision, timeout=10_000):
        editor.session.autosave.flush()
    stored = desk.reader.load_case(case_id).form
    assert stored["applicant.last_name"] == city + "-Okafor"  # the office's value survived
    assert stored["applicant.first_name"] == "Adaeze"
    history = [e for e in desk.reader.field_history(case_id)
               if e["field_key"] == "applicant.last_name"]
    assert history[-1]["why"] == "office"  # not overwritten as "typed" afterwards
