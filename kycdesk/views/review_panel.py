"""The top of a case the office sent or answered: the assignment, the decision (read-only),
a handover in one sentence, the reviewer's comments as a list (each one goes to its
field or photo), and a chooser for every answer changed in two places."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from PySide6.QtCore import QEvent, QObject, QSize, Qt, Signal, Slot
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from kycdesk.core.records import Conflict, ReviewComment, TwoWayState
from kycdesk.models.two_way_text import (
    assignment_text,
    comment_text,
    conflict_value_text,
    decision_text,
    handover_text,
    when_text,
)
from kycdesk.views.style import TOUCH

Keep = Literal["server", "local"]
# A comment's place in words: the field's label, or which photo of which slot.
Placer = Callable[[ReviewComment], str]

COMMENT_ROWS_SHOWN = 2  # more scroll inside the list: the form stays in view
CONFLICTS_SHOWN = 2
CHOOSER_HEIGHT = 96  # a question line and two 60 px choices


class ConflictChooser(QFrame):
    """One answer changed by the office and on this device: both values, who and when;
    the verifier keeps one (click, or arrows then Enter)."""

    chosen = Signal(int, str)  # conflict id, "server" | "local"

    def __init__(self, conflict: Conflict, subject: str, parent: QWidget | None = None
                 ) -> None:
        super().__init__(parent)
        self.conflict = conflict
        self.setObjectName(f"conflict:{conflict.id}")
        self.setProperty("role", "conflict")
        question = QLabel(f"{subject[:1].upper()}{subject[1:]} was changed by the office "
                          "and on this device. Which value should the case keep?", self)
        question.setWordWrap(True)
        self.server_button = self._choice(
            "The office's", conflict_value_text(conflict, "server"),
            conflict.server_by or "the office", conflict.server_at, "server")
        self.local_button = self._choice(
            "This device's", conflict_value_text(conflict, "local"),
            conflict.local_by or "you, on this device", conflict.local_at, "local")
        self.state_label = QLabel("", self)
        self.state_label.setProperty("role", "error")
        self.state_label.setWordWrap(True)
        self.state_label.hide()
        row = QHBoxLayout()
        row.addWidget(self.server_button, 1)
        row.addWidget(self.local_button, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.addWidget(question)
        layout.addLayout(row)
        layout.addWidget(self.state_label)

    def _choice(self, title: str, shown: str, by: str, at: str, keep: Keep) -> QPushButton:
        button = QPushButton(f"Keep {title.lower()}:  {shown}\nchanged by {by}, "
                             f"{when_text(at)}", self)
        button.setObjectName(f"keep-{keep}")
        button.setProperty("role", "choice")
        button.setMinimumHeight(TOUCH + 16)
        button.setToolTip("The other value stays in the case's history")
        button.clicked.connect(lambda: self.choose(keep))
        button.installEventFilter(self)
        return button

    def choose(self, keep: Keep) -> None:
        self.server_button.setEnabled(False)
        self.local_button.setEnabled(False)
        self.state_label.setProperty("role", "help")
        self.state_label.setText("Saving your choice…")
        self.state_label.show()
        self.chosen.emit(self.conflict.id, keep)

    def failed(self, message: str) -> None:
        self.server_button.setEnabled(True)
        self.local_button.setEnabled(True)
        self.state_label.setProperty("role", "error")
        self.state_label.style().unpolish(self.state_label)
        self.state_label.style().polish(self.state_label)
        self.state_label.setText(message)

    def focus_first(self) -> None:
        self.server_button.setFocus(Qt.FocusReason.OtherFocusReason)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent) \
                and watched in (self.server_button, self.local_button):
            key = event.key()
            other = self.local_button if watched is self.server_button else self.server_button
            if key in (Qt.Key.Key_Left, Qt.Key.Key_Right, Qt.Key.Key_Up, Qt.Key.Key_Down):
                other.setFocus(Qt.FocusReason.TabFocusReason)
                return True
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                button = self.server_button if watched is self.server_button \
                    else self.local_button
                if button.isEnabled():
                    button.click()
                return True
        return super().eventFilter(watched, event)


class ReviewPanel(QWidget):
    """Hidden when the office sent nothing about this case."""

    jumpRequested = Signal(str, str)   # field key, client image id ("" when not about one)
    resolveRequested = Signal(int, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("review-panel")
        # As tall as what it says, never stretched: the form gets the rest of the window.
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        inner = self
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.info_label = QLabel("", inner)
        self.info_label.setObjectName("review-info")
        self.info_label.setProperty("role", "banner")
        self.info_label.setWordWrap(True)
        self.info_label.setTextFormat(Qt.TextFormat.PlainText)
        self.decision_label = QLabel("", inner)
        self.decision_label.setObjectName("review-decision")
        self.decision_label.setWordWrap(True)
        self.decision_label.setTextFormat(Qt.TextFormat.PlainText)
        self.handover_label = QLabel("", inner)
        self.handover_label.setObjectName("review-handover")
        self.handover_label.setProperty("role", "banner")
        self.handover_label.setWordWrap(True)
        self.handover_label.setTextFormat(Qt.TextFormat.PlainText)
        self.comments_title = QLabel("", inner)
        self.comments = QListWidget(inner)
        self.comments.setObjectName("review-comments")
        self.comments.setWordWrap(True)
        self.comments.setUniformItemSizes(False)
        self.comments.itemActivated.connect(self._activated)
        self.comments.itemClicked.connect(self._activated)
        # Conflicts scroll among themselves past two: at 768 px the form stays in view.
        self.conflicts_scroll = QScrollArea(inner)
        self.conflicts_scroll.setWidgetResizable(True)
        self.conflicts_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.conflicts_scroll.setHorizontalScrollBarPolicy(
            Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.conflicts_box = QWidget(self.conflicts_scroll)
        self.conflicts_scroll.setWidget(self.conflicts_box)
        self.conflicts_layout = QVBoxLayout(self.conflicts_box)
        self.conflicts_layout.setContentsMargins(0, 0, 0, 0)
        self.choosers: dict[int, ConflictChooser] = {}
        for widget in (self.decision_label, self.handover_label, self.info_label,
                       self.conflicts_scroll, self.comments_title, self.comments):
            layout.addWidget(widget)
        self.state: TwoWayState | None = None

    def set_state(self, state: TwoWayState | None, place: Placer,
                  subject_label: Callable[[Conflict], str]) -> None:
        self.state = state
        decision = state.decision if state else None
        # A return is said by the comments below; the decision line is for the end of
        # a case (approved, rejected), or a return that came with no comment.
        shown_decision = decision is not None and (
            decision.decision != "returned" or not (state and state.comments))
        self.decision_label.setText(decision_text(decision) if decision else "")
        self.decision_label.setProperty(
            "role", "decision-bad" if decision and decision.decision == "rejected"
            else "decision")
        self.decision_label.style().unpolish(self.decision_label)
        self.decision_label.style().polish(self.decision_label)
        self.decision_label.setVisible(shown_decision)
        handover = handover_text(state) if state else ""
        if state is not None and state.locked_reason:  # the office took it back: why
            handover = " ".join(filter(None, (handover, state.locked_reason)))
        self.handover_label.setText(handover)
        self.handover_label.setVisible(bool(handover))
        info = assignment_text(state) if state and state.inbox == "assigned" else ""
        self.info_label.setText(info)
        self.info_label.setVisible(bool(info))

        self.comments.clear()
        comments = state.comments if state else ()
        for comment in comments:
            item = QListWidgetItem(f"{place(comment)}:  {comment_text(comment)}")
            item.setData(Qt.ItemDataRole.UserRole,
                         (comment.field_key or "", comment.client_image_id or ""))
            item.setSizeHint(QSize(0, TOUCH))
            if not (comment.field_key or comment.client_image_id):
                item.setToolTip("About the whole case")
            else:
                item.setToolTip("Go to it (Enter)")
            self.comments.addItem(item)
        count = len(comments)
        self.comments_title.setText(
            f"<b>Returned with {count} comment{'s' if count != 1 else ''}</b> — "
            "select one to go to its answer or photo; correct, then submit again."
            if count else "")
        self.comments_title.setWordWrap(True)
        self.comments_title.setVisible(bool(count))
        self.comments.setVisible(bool(count))
        self.comments.setFixedHeight(min(count, COMMENT_ROWS_SHOWN) * TOUCH + 6)

        for chooser in self.choosers.values():
            chooser.deleteLater()
        self.choosers = {}
        for conflict in state.conflicts if state else ():
            chooser = ConflictChooser(conflict, subject_label(conflict), self.conflicts_box)
            chooser.chosen.connect(self.resolveRequested)
            self.conflicts_layout.addWidget(chooser)
            self.choosers[conflict.id] = chooser
        self.conflicts_scroll.setVisible(bool(self.choosers))
        heights = [max(c.sizeHint().height(), CHOOSER_HEIGHT)
                   for c in list(self.choosers.values())[:CONFLICTS_SHOWN]]
        self.conflicts_scroll.setFixedHeight(sum(heights) + 6 * len(heights))
        self.setVisible(bool(shown_decision or handover or info or count or self.choosers))
        self.updateGeometry()

    def conflict_failed(self, conflict_id: int, message: str) -> None:
        chooser = self.choosers.get(conflict_id)
        if chooser is not None:
            chooser.failed(message)

    @Slot(QListWidgetItem)
    def _activated(self, item: QListWidgetItem) -> None:
        field_key, image_id = item.data(Qt.ItemDataRole.UserRole)
        if field_key or image_id:
            self.jumpRequested.emit(field_key, image_id)
