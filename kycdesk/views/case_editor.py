"""The case editor: a stepper generated from the form definition.

Left, the steps (with a count of problems); right, one page per step, built when first
shown (a 160-field form opens instantly); below, Back / Next / Submit. Every edit goes to
the draft model, which the autosave writes ahead and saves when typing pauses; moving
between steps, adding or deleting a photo and closing save at once.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QScrollBar,
    QScroller,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from kycdesk.core.clock import parse_instant_or_none
from kycdesk.core.form_schema import FieldKind
from kycdesk.core.records import Conflict, ReviewComment
from kycdesk.core.states import CaseChange, CaseStatus, Change, allowed, badge
from kycdesk.models.case_session import CaseSession
from kycdesk.models.two_way_text import CONFLICT_BLOCKS_SUBMIT, comment_text, conflict_subject
from kycdesk.views.camera import CameraSource
from kycdesk.views.confirm import Confirm, ask_confirmation
from kycdesk.views.document_offer import DocumentOffer
from kycdesk.views.field_widgets import FieldEditor, editor_class
from kycdesk.views.photo_panel import PhotoPanel
from kycdesk.views.review_panel import ReviewPanel
from kycdesk.views.scroll_anchor import ScrollAnchor
from kycdesk.views.style import TOUCH, status_badge_html

PAGE_MAX_WIDTH = 900


@dataclass(frozen=True)
class EditorPlace:
    """Where the verifier was in a case: the step, the field in use (and the cursor in
    its text), how far the page was scrolled. Kept across a lock (no answer in it: the
    answers are in the store, autosaved)."""

    step: int
    field: str | None = None
    scroll: int = 0
    cursor: int | None = None


class CaseEditor(QWidget):
    submitted = Signal(str)    # case id, now READY
    titleChanged = Signal(str)

    def __init__(self, session: CaseSession, *, camera: CameraSource | None = None,
                 captures_dir: Path | None = None, confirm: Confirm = ask_confirmation,
                 migration_note: str | None = None,
                 kept_keys: list[str] | None = None) -> None:
        super().__init__()
        self.session = session
        self.case_id = session.case_id
        self.definition = definition = session.definition
        self.confirm: Confirm = confirm
        self.setObjectName(f"editor:{session.case_id}")
        self.model = session.draft
        self.autosave = session.autosave
        self.photos = PhotoPanel(session, camera=camera, captures_dir=captures_dir,
                                 confirm=confirm)
        self.model.errorsChanged.connect(self._refresh_step_badges)
        self.model.errorsChanged.connect(self._refresh_attention)
        self._attention_shown = ""  # the "N answers need attention" text, while shown
        self.model.edited.connect(self._maybe_retitle)
        session.statusChanged.connect(self._status_changed)
        session.commandFailed.connect(self.message_label_text)

        # -- header
        self.title_label = QLabel(self)
        self.title_label.setTextFormat(Qt.TextFormat.RichText)
        self.save_label = QLabel("", self)
        self.save_label.setObjectName("save-state")
        self.save_label.setProperty("role", "save-state")
        self.autosave.stateChanged.connect(self._save_state)
        self.banner = QLabel("", self)
        self.banner.setProperty("role", "banner")
        self.banner.setWordWrap(True)
        self.banner.hide()
        self.retry_button = QPushButton("Retry sync", self)
        self.retry_button.setToolTip("Send this case again")
        self.reopen_button = QPushButton("Reopen as draft", self)
        self.reopen_button.setToolTip("Unlock the case to change it; it is sent again as a "
                                      "new revision after the next Submit")
        for button in (self.retry_button, self.reopen_button):
            button.setMinimumHeight(TOUCH)
            button.hide()
        self.retry_button.clicked.connect(self.retry_sync)
        self.reopen_button.clicked.connect(self.reopen)
        banner_row = QHBoxLayout()
        banner_row.addWidget(self.banner, 1)
        banner_row.addWidget(self.retry_button)
        banner_row.addWidget(self.reopen_button)
        header = QHBoxLayout()
        header.addWidget(self.title_label, 1)
        header.addWidget(self.save_label)
        # What the office sent: assignment, decision, handover, comments, conflicts.
        self.review = ReviewPanel(self)
        self.review.jumpRequested.connect(self.go_to_comment)
        self.review.resolveRequested.connect(self._resolve)
        session.conflictFailed.connect(self.review.conflict_failed)
        session.twoWayChanged.connect(self._show_two_way)

        # -- steps and pages
        self.step_list = QListWidget(self)
        self.step_list.setObjectName("step-list")
        self.step_list.setMaximumWidth(260)
        for step in definition.steps:
            item = QListWidgetItem(step.title)
            item.setSizeHint(QSize(0, TOUCH))
            self.step_list.addItem(item)
        self.pages = QStackedWidget(self)
        self.editors: dict[str, FieldEditor] = {}
        self._built: set[int] = set()
        for _ in definition.steps:
            scroll = QScrollArea(self.pages)
            scroll.setWidgetResizable(True)
            QScroller.grabGesture(scroll.viewport(),
                                  QScroller.ScrollerGestureType.TouchGesture)
            self.pages.addWidget(scroll)
        self.step_list.currentRowChanged.connect(self._step_selected)

        # -- navigation
        self.back_button = QPushButton("Back", self)
        self.next_button = QPushButton("Next", self)
        self.submit_button = QPushButton("Submit for sync", self)
        self.submit_button.setObjectName("submit")
        self.discard_button = QPushButton("Discard draft…", self)
        self.discard_button.setToolTip("Remove this draft and its photos from this device")
        for button in (self.back_button, self.next_button, self.submit_button,
                       self.discard_button):
            button.setMinimumHeight(TOUCH)
        self.discard_button.clicked.connect(self.discard)
        self.back_button.clicked.connect(lambda: self.go_to_step(self.current_step() - 1))
        self.next_button.clicked.connect(lambda: self.go_to_step(self.current_step() + 1))
        self.submit_button.clicked.connect(self.submit)
        QShortcut(QKeySequence("Ctrl+PgDown"), self,
                  lambda: self.go_to_step(self.current_step() + 1))
        QShortcut(QKeySequence("Ctrl+PgUp"), self,
                  lambda: self.go_to_step(self.current_step() - 1))
        QShortcut(QKeySequence("Ctrl+S"), self, self.autosave.flush)
        self.message_label = QLabel("", self)
        self.message_label.setProperty("role", "error")
        nav = QHBoxLayout()
        nav.addWidget(self.discard_button)
        nav.addWidget(self.message_label, 1)
        nav.addWidget(self.back_button)
        nav.addWidget(self.next_button)
        nav.addWidget(self.submit_button)

        body = QHBoxLayout()
        body.addWidget(self.step_list)
        body.addWidget(self.pages, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addLayout(banner_row)
        layout.addWidget(self.review)
        layout.addLayout(body, 1)
        layout.addLayout(nav)

        self._kept_keys = kept_keys or []
        # Values read from ID photos, offered for confirmation; mismatches flagged.
        self.document_offer = DocumentOffer(self, session, self.editors)
        self._show_two_way()
        self._apply_status(migration_note)
        self._update_title()
        self.step_list.setCurrentRow(definition.step_index(session.case.current_step))

    # -- pages ---------------------------------------------------------------------------
    def _build_page(self, index: int) -> None:
        if index in self._built:
            return
        self._built.add(index)
        step = self.definition.steps[index]
        self.session.fill_defaults([f.key for f in step.fields])
        page = QWidget()
        page.setObjectName(f"page:{step.id}")
        page.setMaximumWidth(PAGE_MAX_WIDTH)  # long lines are hard to scan on a tablet
        # A click on the blank part of the page takes the focus off the last field, so
        # that field is plainly no longer being edited.
        page.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        column = QVBoxLayout(page)
        column.setContentsMargins(16, 8, 16, 8)
        heading = QLabel(f"<h2>{step.title}</h2>", page)
        column.addWidget(heading)
        if step.description:
            column.addWidget(QLabel(step.description, page))
        if index == 0 and self._kept_keys:
            column.addWidget(self._kept_values_box(page))
        for field in step.fields:
            if field.kind is FieldKind.PHOTO:
                column.addWidget(self.photos.slots[field.slot])
                continue
            editor = editor_class(field.kind)(self.model, field, page)
            self.editors[field.key] = editor
            self._show_review_at(editor)
            column.addWidget(editor)
        column.addStretch(1)
        self.document_offer.refresh_flags()
        scroll = self.pages.widget(index)
        assert isinstance(scroll, QScrollArea)
        scroll.setWidget(page)
        scroll.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        # A question appearing or going above the field in use does not move that field.
        ScrollAnchor(scroll)

    def _kept_values_box(self, parent: QWidget) -> QLabel:
        values = self.model.values()
        lines = "".join(f"<li>{key}: {json.dumps(values[key], ensure_ascii=False)}</li>"
                        for key in self._kept_keys)
        box = QLabel(f"<b>Answers kept from an earlier version of this form</b> "
                     f"(no longer asked, stored with the case):<ul>{lines}</ul>", parent)
        box.setObjectName("kept-values")
        box.setWordWrap(True)
        box.setProperty("role", "banner")
        return box

    # -- what the office sent -------------------------------------------------------------
    def _field_comments(self, key: str) -> list[str]:
        state = self.session.two_way
        return [comment_text(c) for c in (state.comments if state else ())
                if c.field_key == key and not c.client_image_id]

    def _show_review_at(self, editor: FieldEditor) -> None:
        key = editor.field.key
        notes = ("The office changed this answer too: choose which value to keep at the "
                 "top of the case.",) if any(
            c.field_key == key for c in self.session.open_conflicts()) else ()
        editor.show_review(self._field_comments(key), prefilled=key in self.session.prefilled(),
                           notes=notes)

    @Slot()
    def _show_two_way(self) -> None:
        self.review.set_state(self.session.two_way, self._place, self._subject)
        for editor in self.editors.values():
            self._show_review_at(editor)
        state = self.session.two_way
        by_image: dict[str, list[str]] = {}
        for comment in state.comments if state else ():
            if comment.client_image_id:
                by_image.setdefault(comment.client_image_id, []).append(comment_text(comment))
        self.photos.show_comments(by_image)
        self._refresh_step_badges()
        for slot, widget in self.photos.slots.items():  # comments on a slot, not a photo
            field_key = self.session.slot_fields[slot].key
            extra = [f"Reviewer: {line}" for line in self._field_comments(field_key)]
            if extra:
                shown = widget.comment_label.text()
                widget.show_comments(([shown] if shown else []) + extra)
        if not self.session.open_conflicts() and self.message_label.text().startswith(
                CONFLICT_BLOCKS_SUBMIT[:30]):
            self.message_label.setText("")

    @Slot(int, str)
    def _resolve(self, conflict_id: int, keep: str) -> None:
        conflict = next((c for c in self.session.open_conflicts() if c.id == conflict_id),
                        None)
        if conflict is None or keep not in ("server", "local"):
            return
        side = "the office's value" if keep == "server" else "this device's value"
        self._message_role("help")
        self.message_label.setText(f"Kept {side} for {self._subject(conflict)}; the other "
                                   "stays in the case's history.")
        self.session.resolve_conflict(conflict_id, "server" if keep == "server" else "local")

    def _place(self, comment: ReviewComment) -> str:
        if comment.client_image_id:
            slot = self.photos.slot_of(comment.client_image_id)
            if slot is None:
                return "A photo no longer in the case"
            images = self.session.photos[slot].images
            number = next(n for n, i in enumerate(images, 1)
                          if i.client_image_id == comment.client_image_id)
            return f"{self.session.slot_fields[slot].label}, photo {number}"
        if comment.field_key:
            try:
                return self.definition.field(comment.field_key).label
            except KeyError:
                return comment.field_key
        return "The whole case"

    def _subject(self, conflict: Conflict) -> str:
        label = None
        if conflict.field_key:
            try:
                label = self.definition.field(conflict.field_key).label
            except KeyError:
                label = conflict.field_key
        elif conflict.client_image_id:
            slot = self.photos.slot_of(conflict.client_image_id)
            label = self.session.slot_fields[slot].label if slot else None
        return conflict_subject(conflict, label)

    @Slot(str, str)
    def go_to_comment(self, field_key: str, client_image_id: str) -> None:
        """Go to what a comment is about: its answer, or its photo (selected)."""
        if client_image_id:
            slot = self.photos.slot_of(client_image_id)
            if slot is not None:
                self._reveal_slot(slot)
                self.photos.slots[slot].select_photo(client_image_id)
                return
        if field_key:
            try:
                field = self.definition.field(field_key)
            except KeyError:
                return
            if field.kind is FieldKind.PHOTO:
                self._reveal_slot(field.slot)
                self.photos.slots[field.slot].view.setFocus()
            else:
                self.reveal(field_key)

    def _reveal_slot(self, slot: str) -> None:
        self.go_to_step(self.definition.step_index_of(self.session.slot_fields[slot].key))
        scroll = self.pages.currentWidget()
        if isinstance(scroll, QScrollArea):
            scroll.ensureWidgetVisible(self.photos.slots[slot], 0, 120)

    def current_step(self) -> int:
        return self.step_list.currentRow()

    def place(self) -> EditorPlace:
        """Where the verifier is now (see `return_to`)."""
        scroll = self.pages.currentWidget()
        value = scroll.verticalScrollBar().value() if isinstance(scroll, QScrollArea) else 0
        focused = QApplication.focusWidget()
        for key, editor in self.editors.items():
            if focused is not None and (focused is editor or editor.isAncestorOf(focused)):
                cursor = focused.cursorPosition() if isinstance(focused, QLineEdit) else None
                return EditorPlace(self.current_step(), key, value, cursor)
        return EditorPlace(self.current_step(), None, value)

    def return_to(self, place: EditorPlace) -> None:
        """The step, the field (focused, cursor where it was) and the scroll of `place`.
        The scroll is set after the page's layout has run (it has just been built)."""
        self.go_to_step(place.step)
        editor = self.editors.get(place.field) if place.field else None
        if editor is not None:
            editor.focus_input()
            focused = QApplication.focusWidget()
            if place.cursor is not None and isinstance(focused, QLineEdit):
                focused.setCursorPosition(place.cursor)
        scroll = self.pages.currentWidget()
        if isinstance(scroll, QScrollArea):
            page = scroll.widget()
            if page is not None:
                page.adjustSize()
                layout = page.layout()
                if layout is not None:
                    layout.activate()
            _scroll_when_ready(scroll.verticalScrollBar(), place.scroll)

    def reveal(self, key: str) -> None:
        """Show the step holding `key`, scroll its editor into view, focus it."""
        self.go_to_step(self.definition.step_index_of(key))
        editor = self.editors.get(key)
        if editor is None:
            return
        scroll = self.pages.currentWidget()
        if isinstance(scroll, QScrollArea):
            scroll.ensureWidgetVisible(editor, 0, 120)
        editor.focus_input()

    def go_to_step(self, index: int) -> None:
        if 0 <= index < len(self.definition.steps):
            self.step_list.setCurrentRow(index)

    @Slot(int)
    def _step_selected(self, index: int) -> None:
        if index < 0:
            return
        self._build_page(index)
        self.pages.setCurrentIndex(index)
        self.back_button.setEnabled(index > 0)
        self.next_button.setEnabled(index < len(self.definition.steps) - 1)
        self.session.set_step(self.definition.steps[index].id)  # saves at once

    def _refresh_step_badges(self) -> None:
        remarks = self._remarks_per_step()
        for index, count in enumerate(self.model.step_problem_counts()):
            item = self.step_list.item(index)
            title = self.definition.steps[index].title
            if remarks[index]:  # where the reviewer's comments and the conflicts are
                title += f"  ✎ {remarks[index]}"
            item.setToolTip(f"{remarks[index]} comment(s) or changed answer(s) to check"
                            if remarks[index] else "")
            item.setText(f"{title}  ⚠ {count}" if count else title)

    @Slot()
    def _refresh_attention(self) -> None:
        """The "N answers need attention" line follows the answers: its count drops as
        they are fixed and it goes once none is left (it used to stay, stale)."""
        shown = self._attention_shown
        if not shown or self.message_label.text() != shown:
            return  # not shown, or another message replaced it meanwhile
        count = len(self.model.problems())
        self._attention_shown = _attention(count) if count else ""
        self.message_label.setText(self._attention_shown)

    def _remarks_per_step(self) -> list[int]:
        counts = [0] * len(self.definition.steps)
        state = self.session.two_way
        keys: list[str | None] = [c.field_key for c in self.session.open_conflicts()]
        for comment in state.comments if state else ():
            if comment.client_image_id:
                slot = self.photos.slot_of(comment.client_image_id)
                keys.append(self.session.slot_fields[slot].key if slot else None)
            else:
                keys.append(comment.field_key)
        for key in keys:
            with contextlib.suppress(KeyError):  # a field this form version no longer asks
                counts[self.definition.step_index_of(key or "")] += 1
        return counts

    # -- submit --------------------------------------------------------------------------
    @property
    def status(self) -> str:
        return self.session.status

    @Slot(str)
    def message_label_text(self, message: str) -> None:
        self._message_role("error")
        self.message_label.setText(message)

    def _message_role(self, role: str) -> None:
        if self.message_label.property("role") != role:
            self.message_label.setProperty("role", role)
            self.message_label.style().unpolish(self.message_label)
            self.message_label.style().polish(self.message_label)

    @Slot()
    def submit(self) -> bool:
        """Validate everything; jump to the first problem, or lock and queue the case."""
        if not self.session.editable:
            return False
        self._message_role("error")
        if self.session.busy():
            self.message_label.setText("Photos are still being added; submit again in a "
                                       "moment.")
            return False
        conflicts = self.session.open_conflicts()
        if conflicts:
            what = self._subject(conflicts[0]) if len(conflicts) == 1 else \
                f"{len(conflicts)} answers"
            self.message_label.setText(CONFLICT_BLOCKS_SUBMIT.format(what=what))
            chooser = self.review.choosers.get(conflicts[0].id)
            if chooser is not None:
                self.review.conflicts_scroll.ensureWidgetVisible(chooser)
                chooser.focus_first()
            return False
        self.autosave.flush()
        problems = self.model.problems()
        if problems:
            self.model.show_all_errors()
            first = next(iter(problems))
            self.reveal(first)
            if first not in self.editors:
                slot = self.definition.field(first).slot
                self.photos.slots[slot].setFocus()
            self._attention_shown = _attention(len(problems))
            self.message_label.setText(self._attention_shown)
            return False
        if not self.confirm(self, "Submit this case? It will be locked and sent to the "
                                  "server when the device is online."):
            return False
        self.message_label.setText("")
        self.session.submit()
        return True

    @Slot(object)
    def _status_changed(self, change: CaseChange) -> None:
        if change.removed:
            return  # the app closes this tab
        self._apply_status(None)
        if change.change is Change.SUBMIT:
            self.submitted.emit(self.case_id)

    @Slot()
    def discard(self) -> bool:
        if not self.session.editable or not self.confirm(
                self, "Discard this draft and its photos? They are removed from this device "
                      "and cannot be brought back."):
            return False
        self.session.discard()
        return True

    @Slot()
    def retry_sync(self) -> None:
        if allowed(Change.RETRY, self.status):
            self.session.retry()

    @Slot()
    def reopen(self) -> None:
        if allowed(Change.REOPEN, self.status) and self.confirm(
                self, "Reopen this case as a draft? It leaves the sync queue until you "
                      "submit it again."):
            self.session.reopen()

    def _apply_status(self, note: str | None) -> None:
        status = self.status
        read_only = not self.session.editable
        for editor in self.editors.values():
            editor.set_read_only(read_only)
        self.photos.set_read_only(read_only)
        self.submit_button.setVisible(not read_only)
        self.discard_button.setVisible(not read_only)
        self.retry_button.setVisible(allowed(Change.RETRY, status))
        self.reopen_button.setVisible(allowed(Change.REOPEN, status))
        case = self.session.case
        shown = badge(status, case.last_error_kind)
        messages = []
        if status == CaseStatus.READY:
            messages.append("Submitted: this case is locked and waits to be sent.")
        elif status == CaseStatus.SYNCED:
            messages.append("Synced: the server has this case. It is read-only.")
        elif status == CaseStatus.FAILED and shown.needs_action:
            messages.append(f"Needs action: {_sentence(case.last_error)} Send it again with "
                            "Retry, or reopen it as a draft to change it.")
        elif status == CaseStatus.FAILED:
            when = _local_time(case.next_attempt_at)
            messages.append(f"Waiting to be sent: {_sentence(case.last_error)} kycdesk tries "
                            "again by itself" + (f" at about {when}." if when else "."))
        if note:
            messages.append(note)
        self.retry_button.setText("Retry sync" if shown.needs_action else "Try now")
        self.banner.setProperty("role", "banner-bad" if shown.needs_action else "banner")
        self.banner.style().unpolish(self.banner)
        self.banner.style().polish(self.banner)
        self.banner.setText(" ".join(messages))
        self.banner.setVisible(bool(messages))
        self._update_title()

    # -- header ---------------------------------------------------------------------------
    def _update_title(self) -> None:
        name = self.model.applicant_name() or "New applicant"
        reference = self.session.case.reference_number or "no reference"
        badge_html = status_badge_html(self.status, self.session.case.last_error_kind)
        self.title_label.setText(f"<b>{name}</b> · {reference} {badge_html}")
        self.titleChanged.emit(name)

    def _maybe_retitle(self, key: str, _value: object) -> None:
        if key in self.definition.summary.name_fields:
            self._update_title()

    @Slot(str)
    def _save_state(self, text: str) -> None:
        self.save_label.setText(text)
        bad = text.startswith("Not saved")
        self.save_label.setProperty("role", "save-state-bad" if bad else "save-state")
        self.save_label.style().unpolish(self.save_label)
        self.save_label.style().polish(self.save_label)

    # -- lifecycle --------------------------------------------------------------------------
    def flush(self) -> None:
        self.autosave.flush()

    def close_case(self) -> None:
        """Closing saves at once; nothing waits for the disk."""
        self.session.close()



def _scroll_when_ready(bar: QScrollBar, value: int) -> None:
    """Scroll to `value` now, or once the freshly built page is tall enough for it (its
    range grows when the layout has run)."""
    bar.setValue(value)
    if bar.value() == value:
        return

    def grown(_low: int, high: int) -> None:
        if high >= value:
            bar.rangeChanged.disconnect(grown)
            bar.setValue(value)

    bar.rangeChanged.connect(grown)


def _sentence(text: str | None) -> str:
    """One sentence, ending in one full stop (the reasons come from several places)."""
    text = (text or "the reason is unknown").strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _local_time(iso: str | None) -> str | None:
    moment = parse_instant_or_none(iso)
    return None if moment is None else moment.astimezone().strftime("%H:%M")


def _attention(count: int) -> str:
    return (f"{count} answer{'s need' if count > 1 else ' needs'} attention before this "
            "case can be submitted.")
