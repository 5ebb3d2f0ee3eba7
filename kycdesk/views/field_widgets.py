"""One editor widget per field kind, bound to a row of the DraftModel.

Values reach the model on every edit (textEdited, toggled, …), never only on focus loss:
a kill while a field has focus must not lose it. Model changes flow back through
`dataChanged` (with the widget's own signals blocked, so no echo edits).
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any, assert_never

from PySide6.QtCore import QDate, QModelIndex, Qt, Slot
from PySide6.QtWidgets import (
    QAbstractButton,
    QButtonGroup,
    QCalendarWidget,
    QCheckBox,
    QComboBox,
    QDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from kycdesk.core.clock import now_text
from kycdesk.core.dates import parse_typed_date
from kycdesk.core.form_schema import FieldDef, FieldKind
from kycdesk.core.numbers import canonical, format_number, read_number, stored_number
from kycdesk.core.signature import signature_value, strokes_of
from kycdesk.models.draft_model import DraftModel
from kycdesk.models.two_way_text import PREFILLED
from kycdesk.views.signature_pad import SignaturePad
from kycdesk.views.style import TOUCH
from kycdesk.views.wheel_guard import guard_against_wheel


class FieldEditor(QWidget):
    """Label + input + help + inline error for one field."""

    def __init__(self, model: DraftModel, field: FieldDef, parent: QWidget | None = None
                 ) -> None:
        super().__init__(parent)
        self.model = model
        self.field = field
        self.setObjectName(f"field:{field.key}")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 6)
        layout.setSpacing(3)
        label = QLabel(field.label + (" *" if field.required else ""), self)
        label.setWordWrap(True)
        layout.addWidget(label)
        # What the office said about this answer: hidden until there is something.
        self.prefilled_label = QLabel(PREFILLED, self)
        self.prefilled_label.setObjectName(f"prefilled:{field.key}")
        self.prefilled_label.setProperty("role", "prefilled")
        self.prefilled_label.hide()
        layout.addWidget(self.prefilled_label, 0, Qt.AlignmentFlag.AlignLeft)
        self.comment_label = QLabel("", self)
        self.comment_label.setObjectName(f"comment:{field.key}")
        self.comment_label.setProperty("role", "comment")
        self.comment_label.setWordWrap(True)
        self.comment_label.setTextFormat(Qt.TextFormat.PlainText)
        self.comment_label.hide()
        layout.addWidget(self.comment_label)
        self.input = self._make_input()
        self._wheel_guard = guard_against_wheel(self.input)
        label.setBuddy(self.input)
        layout.addWidget(self.input)
        if field.help:
            help_label = QLabel(field.help, self)
            help_label.setProperty("role", "help")
            help_label.setWordWrap(True)
            layout.addWidget(help_label)
        self.error_label = QLabel("", self)
        self.error_label.setProperty("role", "error")
        self.error_label.setObjectName(f"error:{field.key}")
        self.error_label.setWordWrap(True)
        # The line is reserved even while empty: a message appearing must not move the
        # fields below it under a finger that is already on its way.
        policy = self.error_label.sizePolicy()
        policy.setRetainSizeWhenHidden(True)
        self.error_label.setSizePolicy(policy)
        self.error_label.hide()
        layout.addWidget(self.error_label)
        self._row = model.row_of(field.key)
        model.dataChanged.connect(self._model_changed)
        blocked = self.input.blockSignals(True)  # showing the stored value is not an edit
        try:
            self.show_value(model.value(field.key))
        finally:
            self.input.blockSignals(blocked)
        self.set_read_only(model.read_only)
        self._refresh_error()
        self.setVisible(model.is_visible(field.key))

    # -- subclasses -------------------------------------------------------------------
    def _make_input(self) -> QWidget:
        raise NotImplementedError

    def show_value(self, value: Any) -> None:
        raise NotImplementedError

    def set_read_only(self, read_only: bool) -> None:
        self.input.setEnabled(not read_only)

    # -- binding ----------------------------------------------------------------------
    def commit(self, value: Any) -> None:
        self.model.set_value(self.field.key, value)

    @Slot(QModelIndex, QModelIndex)
    def _model_changed(self, first: QModelIndex, last: QModelIndex) -> None:
        if not first.row() <= self._row <= last.row():
            return
        current = self.model.value(self.field.key)
        blocked = self.input.blockSignals(True)
        try:
            self.show_value(current)
        finally:
            self.input.blockSignals(blocked)
        self.setVisible(self.model.is_visible(self.field.key))
        self._refresh_error()

    def _refresh_error(self) -> None:
        message = self.model.error(self.field.key)
        self.error_label.setText(message or "")
        self.error_label.setVisible(bool(message))

    def focus_input(self) -> None:
        self.input.setFocus(Qt.FocusReason.OtherFocusReason)

    def show_review(self, comments: list[str], *, prefilled: bool = False,
                    notes: tuple[str, ...] = ()) -> None:
        """The reviewer's comments on this answer (and other notes about it, e.g. an open
        conflict), and whether the office filled it in (still editable: the verifier
        checks it with the applicant)."""
        self.prefilled_label.setVisible(prefilled)
        lines = [f"Reviewer: {c}" for c in comments] + list(notes)
        self.comment_label.setText("\n".join(lines))
        self.comment_label.setVisible(bool(lines))


class TextEditor(FieldEditor):
    def _make_input(self) -> QWidget:
        edit = QLineEdit(self)
        edit.setMinimumHeight(TOUCH)
        if self.field.placeholder:
            edit.setPlaceholderText(self.field.placeholder)
        if self.field.max_length:
            edit.setMaxLength(self.field.max_length + 50)  # over-long is shown as an error
        edit.textEdited.connect(self._edited)
        self.line = edit
        return edit

    def _edited(self, text: str) -> None:
        if self.field.kind is FieldKind.ID_NUMBER and text != text.upper():
            position = self.line.cursorPosition()
            text = text.upper()
            self.line.setText(text)
            self.line.setCursorPosition(position)
        self.commit(text)

    def show_value(self, value: Any) -> None:
        text = "" if value is None else str(value)
        if self.line.text() != text:
            self.line.setText(text)

    def set_read_only(self, read_only: bool) -> None:
        self.line.setReadOnly(read_only)


class MultilineEditor(FieldEditor):
    def _make_input(self) -> QWidget:
        edit = QPlainTextEdit(self)
        edit.setMinimumHeight(TOUCH * 2)
        edit.setMaximumHeight(TOUCH * 4)
        edit.setTabChangesFocus(True)  # keyboard users can leave the box with Tab
        edit.textChanged.connect(lambda: self.commit(edit.toPlainText()))
        self.text = edit
        return edit

    def show_value(self, value: Any) -> None:
        text = "" if value is None else str(value)
        if self.text.toPlainText() != text:
            self.text.setPlainText(text)

    def set_read_only(self, read_only: bool) -> None:
        self.text.setReadOnly(read_only)


class NumberEditor(FieldEditor):
    """Numbers and money as typed in the form's locale ("45,000", "45 000", "45.000,50"
    in de_DE): read into an exact value — int, or a decimal string ("45000.50") — and
    shown back grouped when the verifier leaves the box. Nothing typed is filtered or cut:
    text with no single reading is kept as typed and refused with how it could be read
    (kycdesk.core.numbers)."""

    def _make_input(self) -> QWidget:
        edit = QLineEdit(self)
        edit.setMinimumHeight(TOUCH)
        edit.setPlaceholderText(self._example())
        edit.setInputMethodHints(Qt.InputMethodHint.ImhFormattedNumbersOnly)
        edit.textEdited.connect(self._edited)
        edit.editingFinished.connect(self._tidy)
        self.line = edit
        self._typed: Any = None  # the value the last keystroke committed
        return edit

    @property
    def _whole(self) -> bool:
        return self.field.kind is FieldKind.INTEGER

    def _example(self) -> str:
        example = Decimal("45000") if self._whole else Decimal("45000.50")
        return "e.g. " + format_number(example, self.model.definition.locale)

    def _read(self, text: str) -> Decimal | None:
        return read_number(text, self.model.definition.locale, decimals=self.field.decimals,
                           whole=self._whole).value

    def _edited(self, text: str) -> None:
        value = self._read(text)
        if text.strip() in ("", "-"):
            self._typed = None
        elif value is None:
            self._typed = text.strip()  # kept as typed; validation says how it reads
        else:
            self._typed = int(value) if self._whole else canonical(value)
        self.commit(self._typed)

    def _shown(self, value: Decimal) -> str:
        return format_number(value, self.model.definition.locale,
                             decimals=None if self._whole else self.field.decimals)

    def _tidy(self) -> None:
        value = self._read(self.line.text())
        if value is not None and self.line.text() != self._shown(value):
            self.line.setText(self._shown(value))

    def show_value(self, value: Any) -> None:
        if self.line.text() and value == self._typed:
            return  # the model echoes what was just typed: the box keeps the keys
        number = stored_number(value)
        if number is None:
            text = "" if value is None else str(value)
            if self.line.text().strip() != text:
                self.line.setText(text)
        elif self._read(self.line.text()) != number:
            self.line.setText(self._shown(number))

    def set_read_only(self, read_only: bool) -> None:
        self.line.setReadOnly(read_only)


class DateEditor(FieldEditor):
    """A date typed or picked: the text box takes the form's format (2026-03-14) and the
    common typed ones (14/03/2026, 14.3.2026, 14 03 2026); the calendar opens at the value,
    at today, or about 30 years back for a date of birth, with Today and Clear; cells are
    touch-sized. Text that is not a date is kept as typed and shown with an error — never
    dropped, never turned into a made-up date."""

    HINT = "YYYY-MM-DD, or DD/MM/YYYY"

    def _make_input(self) -> QWidget:
        box = QWidget(self)
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        self.line = QLineEdit(box)
        self.line.setMinimumHeight(TOUCH)
        self.line.setPlaceholderText(self.HINT)
        self.line.setInputMethodHints(Qt.InputMethodHint.ImhPreferNumbers)
        self.line.textEdited.connect(self._typed)
        self.line.editingFinished.connect(self._tidy)
        self.pick = QPushButton("Calendar…", box)
        self.pick.setMinimumSize(TOUCH * 2, TOUCH)
        self.pick.clicked.connect(self.open_calendar)
        self.today = QPushButton("Today", box)
        self.today.setMinimumSize(TOUCH * 2, TOUCH)
        self.today.clicked.connect(lambda: self._picked(QDate.currentDate()))
        self.clear = QPushButton("Clear", box)
        self.clear.setMinimumSize(TOUCH * 2, TOUCH)
        self.clear.clicked.connect(self._cleared)
        row.addWidget(self.line, 1)
        for button in (self.pick, self.today, self.clear):
            row.addWidget(button)
        self.calendar: QCalendarWidget | None = None
        return box

    def _parse(self, text: str) -> date | None:
        return parse_typed_date(text, self.model.definition.locale)

    def _typed(self, text: str) -> None:
        text = text.strip()
        if not text:
            self.commit(None)
            return
        parsed = self._parse(text)
        self.commit(parsed.isoformat() if parsed else text)  # unparsable: kept, flagged

    def _tidy(self) -> None:
        parsed = self._parse(self.line.text().strip())
        if parsed is not None and self.line.text() != parsed.isoformat():
            self.line.setText(parsed.isoformat())

    def _picked(self, value: QDate) -> None:
        iso = value.toString("yyyy-MM-dd")
        self.line.setText(iso)
        self.commit(iso)
        if self.calendar is not None:
            self.calendar.window().close()

    def _cleared(self) -> None:
        self.line.clear()
        self.commit(None)

    def start_date(self) -> QDate:
        """Where the calendar opens: the answer, else today — or ~30 years back for a
        date of birth (nobody scrolls from 1800, or from today, to 1988)."""
        current = self._parse(self.line.text().strip())
        if current is not None:
            return QDate(current.year, current.month, current.day)
        today = QDate.currentDate()
        year = re.search(r"\b(1[89]|20)\d\d\b", self.line.text())
        if year:  # "31.02.1988" is no day, but the person meant 1988: open there
            return QDate(int(year.group()), 1, 1)
        return today.addYears(-30) if "birth" in self.field.key else today

    def open_calendar(self) -> QCalendarWidget:
        dialog = QDialog(self)
        dialog.setWindowTitle(self.field.label)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        calendar = QCalendarWidget(dialog)
        calendar.setGridVisible(True)
        calendar.setMinimumSize(TOUCH * 8, TOUCH * 8)  # 7 columns + header: 44 px cells
        calendar.setSelectedDate(self.start_date())
        calendar.setCurrentPage(self.start_date().year(), self.start_date().month())
        calendar.clicked.connect(self._picked)
        calendar.activated.connect(self._picked)
        layout = QVBoxLayout(dialog)
        layout.addWidget(calendar)
        self.calendar = calendar
        dialog.finished.connect(lambda _r: setattr(self, "calendar", None))
        dialog.open()
        return calendar

    def show_value(self, value: Any) -> None:
        text = "" if value is None else str(value)
        shown = self._parse(self.line.text().strip())
        if self.line.text() != text and not (shown and shown.isoformat() == text):
            self.line.setText(text)

    def set_read_only(self, read_only: bool) -> None:
        self.line.setReadOnly(read_only)
        for button in (self.pick, self.today, self.clear):
            button.setEnabled(not read_only)

    def focus_input(self) -> None:
        self.line.setFocus(Qt.FocusReason.OtherFocusReason)


class ChoiceEditor(FieldEditor):
    def _make_input(self) -> QWidget:
        combo = QComboBox(self)
        combo.setMinimumHeight(TOUCH)
        combo.setView(QListView(combo))  # so the rows take the touch-sized style
        combo.addItem("— choose —", None)
        for option in self.field.options:
            combo.addItem(option.label, option.value)
        combo.activated.connect(lambda index: self.commit(combo.itemData(index)))
        self.combo = combo
        return combo

    def show_value(self, value: Any) -> None:
        index = self.combo.findData(value) if value is not None else 0
        self.combo.setCurrentIndex(max(0, index))


class MultiChoiceEditor(FieldEditor):
    def _make_input(self) -> QWidget:
        box = QWidget(self)
        grid = QGridLayout(box)
        grid.setContentsMargins(0, 0, 0, 0)
        self.boxes: list[QCheckBox] = []
        columns = 3 if len(self.field.options) > 6 else 2
        for i, option in enumerate(self.field.options):
            check = QCheckBox(option.label, box)
            check.setMinimumHeight(TOUCH)
            check.setProperty("value", option.value)
            check.toggled.connect(self._toggled)
            grid.addWidget(check, i // columns, i % columns)
            self.boxes.append(check)
        return box

    def _toggled(self) -> None:
        self.commit([str(b.property("value")) for b in self.boxes if b.isChecked()])

    def show_value(self, value: Any) -> None:
        selected = set(value or [])
        for check in self.boxes:
            blocked = check.blockSignals(True)
            check.setChecked(check.property("value") in selected)
            check.blockSignals(blocked)


class YesNoEditor(FieldEditor):
    """Two big toggle buttons; neither pressed means "not answered"."""

    def _make_input(self) -> QWidget:
        box = QWidget(self)
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        self.group = QButtonGroup(box)
        self.group.setExclusive(False)  # so "not answered" stays possible
        self.yes = QPushButton("Yes", box)
        self.no = QPushButton("No", box)
        for button in (self.yes, self.no):
            button.setCheckable(True)
            button.setMinimumSize(TOUCH * 2, TOUCH)
            button.setProperty("role", "answer")  # checked: filled accent and a tick
            self.group.addButton(button)
            row.addWidget(button)
        row.addStretch(1)
        self.group.buttonClicked.connect(self._clicked)
        return box

    def _clicked(self, button: QAbstractButton) -> None:
        other = self.no if button is self.yes else self.yes
        other.setChecked(False)
        self._mark()
        self.commit((button is self.yes) if button.isChecked() else None)

    def show_value(self, value: Any) -> None:
        for button, state in ((self.yes, value is True), (self.no, value is False)):
            blocked = button.blockSignals(True)
            button.setChecked(state)
            button.blockSignals(blocked)
        self._mark()

    def _mark(self) -> None:
        """The chosen answer carries a tick as well as the colour (not by colour alone)."""
        for button, word in ((self.yes, "Yes"), (self.no, "No")):
            button.setText(f"✓ {word}" if button.isChecked() else word)

    def focus_input(self) -> None:
        self.yes.setFocus(Qt.FocusReason.OtherFocusReason)

    def set_read_only(self, read_only: bool) -> None:
        self.yes.setEnabled(not read_only)
        self.no.setEnabled(not read_only)


class SignatureEditor(FieldEditor):
    """The signature box with Undo (the last stroke) and Clear. Each lift of the pen saves
    the strokes with a fresh PNG, its SHA-256 and the time: a kill mid-signature keeps
    every stroke finished so far. Undoing the last stroke, or Clear, leaves no signature."""

    def _make_input(self) -> QWidget:
        box = QWidget(self)
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        self.pad = SignaturePad(box)
        self.pad.strokeFinished.connect(self._save)
        column.addWidget(self.pad)
        row = QHBoxLayout()
        self.undo_button = QPushButton("Undo last stroke", box)
        self.clear_button = QPushButton("Clear", box)
        for button in (self.undo_button, self.clear_button):
            button.setMinimumSize(TOUCH * 2, TOUCH)
            row.addWidget(button)
        self.signed_label = QLabel("", box)
        self.signed_label.setProperty("role", "help")
        row.addWidget(self.signed_label, 1)
        column.addLayout(row)
        self.undo_button.clicked.connect(self._undo)
        self.clear_button.clicked.connect(self._clear)
        return box

    def _save(self) -> None:
        if not self.pad.strokes:
            self.commit(None)
            return
        self.commit(signature_value(self.pad.strokes, self.pad.width(), self.pad.height(),
                                    self.pad.render_png(), now_text()))

    def _undo(self) -> None:
        self.pad.undo()
        self._save()

    def _clear(self) -> None:
        self.pad.clear()
        self._save()

    def show_value(self, value: Any) -> None:
        strokes = strokes_of(value)
        if strokes != self.pad.strokes:
            self.pad.set_strokes(strokes)
        signed = value.get("signed_at") if isinstance(value, dict) and strokes else None
        self.signed_label.setText(f"Signed {signed}" if signed else "")
        self._enable_buttons()

    def _enable_buttons(self) -> None:
        editable = self.pad.isEnabled()
        self.undo_button.setEnabled(editable and bool(self.pad.strokes))
        self.clear_button.setEnabled(editable and bool(self.pad.strokes))

    def set_read_only(self, read_only: bool) -> None:
        self.pad.setEnabled(not read_only)
        self._enable_buttons()

    def focus_input(self) -> None:
        self.pad.setFocus(Qt.FocusReason.OtherFocusReason)


def editor_class(kind: FieldKind) -> type[FieldEditor]:
    """The widget for a field kind; mypy checks every kind has one (assert_never)."""
    match kind:
        case FieldKind.TEXT | FieldKind.PHONE | FieldKind.EMAIL | FieldKind.ID_NUMBER:
            return TextEditor
        case FieldKind.MULTILINE:
            return MultilineEditor
        case FieldKind.INTEGER | FieldKind.DECIMAL:
            return NumberEditor
        case FieldKind.DATE:
            return DateEditor
        case FieldKind.SINGLE_CHOICE:
            return ChoiceEditor
        case FieldKind.MULTI_CHOICE:
            return MultiChoiceEditor
        case FieldKind.YES_NO:
            return YesNoEditor
        case FieldKind.SIGNATURE:
            return SignatureEditor
        case FieldKind.PHOTO:
            raise ValueError("photo slots are shown by the photo panel, not a field editor")
    assert_never(kind)
