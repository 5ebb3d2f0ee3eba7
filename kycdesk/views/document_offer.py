"""Values read from an ID photo, offered to the verifier one by one.

When an ID photo of the case has been read (the MRZ, or a card back's PDF417; off the GUI
thread, `models.document_reading`), a small window lists each value next to the form
field it would fill: "Use" puts that one value in the form (saved like a typed one, its
reason recorded); nothing goes in by itself. Every button is 44 px and in the tab order
(Tab, then Space or Enter). A field whose typed value disagrees with the document shows
"⚠ The ID document says …" under it, until the two agree.
"""

from __future__ import annotations

import html
from datetime import date
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtWidgets import (
    QDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLayout,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from kycdesk.core.document_form import Offer
from kycdesk.core.id_document import DocumentRead, Source, Vouched
from kycdesk.views.style import ERROR_COLOUR, TOUCH

if TYPE_CHECKING:
    from kycdesk.models.case_session import CaseSession
    from kycdesk.views.field_widgets import FieldEditor

_VOUCHED = {Vouched.CHECK_DIGITS: "check digits passed",
            Vouched.NO_DIGIT: "no check digit: compare with the document",
            Vouched.BARCODE: "from the barcode"}


class DocumentOfferDialog(QDialog):
    """One reading's values, each with its own "Use" button."""

    def __init__(self, session: CaseSession, read: DocumentRead, image_id: int,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.read = read
        self.image_id = image_id
        self.setObjectName("document-offer")
        self.setWindowTitle("Values read from the ID photo")
        self.setWindowModality(Qt.WindowModality.NonModal)
        # Where the keyboard is must show: Space or Enter uses that value.
        self.setStyleSheet("QPushButton:focus { border: 2px solid #f0a800; "
                           "border-radius: 4px; }")
        where = ("machine-readable zone (MRZ)" if read.source is Source.MRZ
                 else "barcode on the card's back")
        heading = QLabel(f"<b>Read from the {where}</b><br>Check each value against the "
                         "document, then use it. Nothing goes into the form until you do.",
                         self)
        heading.setWordWrap(True)
        self.rows = QGridLayout()
        self.rows.setHorizontalSpacing(14)
        self.use_buttons: dict[str, QPushButton] = {}
        self.notes: dict[str, QLabel] = {}
        self.note_label = QLabel(read.note, self)
        self.note_label.setObjectName("document-note")
        self.note_label.setProperty("role", "banner")
        self.note_label.setWordWrap(True)
        self.note_label.setVisible(bool(read.note))
        self.close_button = QPushButton("Close", self)
        self.close_button.setMinimumHeight(TOUCH)
        self.close_button.setAutoDefault(False)
        self.close_button.clicked.connect(self.close)
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        bottom.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(self.note_label)
        layout.addLayout(self.rows)
        layout.addStretch(1)
        layout.addLayout(bottom)
        self._build()
        session.draft.edited.connect(self._refresh)

    def _build(self) -> None:
        made, left = self.session.documents.offers(self.read)
        self.offers = {offer.key: offer for offer in made}
        for row, offer in enumerate(made):
            label = QLabel(html.escape(offer.label), self)
            value = QLabel(f"<b style='font-size:15px'>{html.escape(offer.shown)}</b>"
                           f"<br><span style='color:#5b6770'>{_VOUCHED[offer.vouched]}</span>",
                           self)
            value.setObjectName(f"read:{offer.key}")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            note = QLabel("", self)
            note.setObjectName(f"typed:{offer.key}")
            note.setWordWrap(True)
            button = QPushButton("Use", self)
            button.setObjectName(f"use:{offer.key}")
            button.setMinimumSize(TOUCH * 2, TOUCH)
            button.setAutoDefault(False)  # Enter on a row uses that row, not another
            button.clicked.connect(lambda _=False, key=offer.key: self.use(key))
            label.setBuddy(button)
            self.rows.addWidget(label, row, 0)
            self.rows.addWidget(value, row, 1)
            self.rows.addWidget(note, row, 2)
            self.rows.addWidget(button, row, 3)
            self.use_buttons[offer.key] = button
            self.notes[offer.key] = note
        self.rows.setColumnStretch(2, 1)
        if left:
            extra = "; ".join(f"{u.shown} ({u.reason})" for u in left)
            skipped = QLabel(f"Not offered: {html.escape(extra)}.", self)
            skipped.setObjectName("not-offered")
            skipped.setProperty("role", "help")
            skipped.setWordWrap(True)
            self.rows.addWidget(skipped, len(made), 0, 1, 4)
        if not made and not self.read.note:
            self.note_label.setText("None of the values read has a field in this form.")
            self.note_label.show()
        self._refresh()
        # The keyboard starts on the first value still to confirm.
        first = next((b for b in self.use_buttons.values() if b.isEnabled()),
                     self.close_button)
        first.setFocus(Qt.FocusReason.OtherFocusReason)

    @Slot()
    def _refresh(self, *_args: object) -> None:
        made, _left = self.session.documents.offers(self.read)
        editable = self.session.editable
        for offer in made:
            self.offers[offer.key] = offer
            button, note = self.use_buttons.get(offer.key), self.notes.get(offer.key)
            if button is None or note is None:
                continue
            if offer.already:
                button.setText("✓ In the form")
                button.setEnabled(False)
                note.setText("")
            else:
                button.setText("Use")
                button.setEnabled(editable)
                note.setText(f"<span style='color:{ERROR_COLOUR}'>⚠ Typed: "
                             f"{html.escape(str(offer.current))}</span>"
                             if offer.mismatch else "")
            if offer.name == "expiry_date" and str(offer.value) < date.today().isoformat():
                note.setText(f"<span style='color:{ERROR_COLOUR}'>⚠ Expired</span>"
                             + (f"<br>{note.text()}" if note.text() else ""))

    def use(self, key: str) -> None:
        offer = self.offers.get(key)
        if offer is None:
            return
        self.session.documents.confirm(offer, self.read, self.image_id)
        self._refresh()
        # Focus moves on to the next value still to confirm.
        following = [b for k, b in self.use_buttons.items() if b.isEnabled() and k != key]
        if following:
            following[0].setFocus(Qt.FocusReason.TabFocusReason)
        else:
            self.close_button.setFocus(Qt.FocusReason.TabFocusReason)


class DocumentOffer(QObject):
    """The editor's hook: opens the window when a reading arrives, and flags at each field
    a typed value the last reading disagrees with."""

    def __init__(self, parent: QWidget, session: CaseSession,
                 editors: dict[str, FieldEditor]) -> None:
        super().__init__(parent)
        self.window_parent = parent
        self.session = session
        self.editors = editors  # the editor's own dict: pages are built as they are shown
        self.dialog: DocumentOfferDialog | None = None
        self.last: DocumentRead | None = None
        session.documents.documentRead.connect(self._read)
        session.draft.edited.connect(self.refresh_flags)

    @Slot(str, int, object)
    def _read(self, _slot: str, image_id: int, read: DocumentRead) -> None:
        if not self.session.editable:
            return
        if read.values:
            self.last = read
        if self.dialog is not None:
            self.dialog.close()
            self.dialog.deleteLater()
        self.dialog = DocumentOfferDialog(self.session, read, image_id, self.window_parent)
        self.dialog.resize(760, 0)
        self.dialog.show()
        self.dialog.activateWindow()  # the keyboard goes to its first "Use" button
        self.refresh_flags()

    @Slot()
    def refresh_flags(self, *_edit: object) -> None:
        made = self.session.documents.offers(self.last)[0] if self.last else []
        by_key: dict[str, Offer] = {offer.key: offer for offer in made}
        for key, editor in self.editors.items():
            offer = by_key.get(key)
            flag = editor.findChild(QLabel, f"document-mismatch:{key}")
            if offer is None or not offer.mismatch:
                if flag is not None:
                    flag.hide()
                continue
            if flag is None:
                flag = QLabel(editor)
                flag.setObjectName(f"document-mismatch:{key}")
                flag.setProperty("role", "error")
                flag.setWordWrap(True)
                layout = editor.layout()
                if isinstance(layout, QLayout):
                    layout.addWidget(flag)
            flag.setText(f"⚠ The ID document says {offer.shown}")
            flag.show()
