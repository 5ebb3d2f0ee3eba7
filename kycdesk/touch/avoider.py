"""The focus hook: a text field that takes the focus raises the touch keyboard (when one is
wanted), and the field is scrolled into the part of its page the keyboard leaves visible.

How the field is kept visible: the nearest `QScrollArea` holding it gets a bottom viewport
margin as tall as the part of it the keyboard covers, so its viewport ends at the
keyboard's top edge and its scroll range grows by as much (a field at the very end of a
page can still come up); then it is scrolled into that part. When the keyboard goes, the margin
goes. Nothing else in the window moves, and a field that is not in a scroll area is left
where it is (the sign-in and lock screens keep theirs in the upper half).

The keyboard is polled (`TouchKeyboard.occluded`, one cheap call) while a text field has
the focus or the keyboard is up: it slides in over ~300 ms after it is asked for, and the
verifier can close or move it at any time; Windows' notification interface
(IFrameworkInputPaneHandler) would need a COM object implemented in ctypes for the same.
"""

from __future__ import annotations

import logging

import shiboken6
from PySide6.QtCore import QObject, QPoint, QRect, QTimer, Slot
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLineEdit,
    QPlainTextEdit,
    QScrollArea,
    QTextEdit,
    QWidget,
)

from kycdesk.touch.keyboard import TouchKeyboard

log = logging.getLogger(__name__)

POLL_MS = 100
# Space left between the field and the keyboard's top edge (a finger's width, so the field
# is not hidden under the keyboard's own shadow or suggestion strip).
MARGIN_PX = 24


def takes_text(widget: QWidget | None) -> bool:
    """A field that is typed into (not a read-only one: nothing to type there)."""
    if isinstance(widget, QLineEdit):
        return not widget.isReadOnly()
    if isinstance(widget, QTextEdit | QPlainTextEdit):
        return not widget.isReadOnly()
    if isinstance(widget, QAbstractSpinBox):
        return not widget.isReadOnly()
    if isinstance(widget, QComboBox):
        return widget.isEditable()
    return False


def scroll_area_of(widget: QWidget) -> QScrollArea | None:
    """The nearest scroll area whose page holds `widget` (a multi-line field is a scroll
    area itself; its own viewport is not the one to shrink)."""
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, QScrollArea):
            page = parent.widget()
            if page is not None and page.isAncestorOf(widget):
                return parent
        parent = parent.parentWidget()
    return None


def scroll_into_view(scroll: QScrollArea, field: QWidget) -> None:
    """Scroll so the whole field, and MARGIN_PX around it, is in the viewport
    (`ensureWidgetVisible` settles for the text cursor of a focused line being visible)."""
    page = scroll.widget()
    assert page is not None
    bar = scroll.verticalScrollBar()
    top = field.mapTo(page, QPoint(0, 0)).y() - MARGIN_PX
    bottom = top + field.height() + 2 * MARGIN_PX
    value = bar.value()
    if bottom > value + scroll.viewport().height():
        value = bottom - scroll.viewport().height()
    value = min(value, top)  # a field taller than the view: its top first
    if value != bar.value():
        bar.setValue(value)


class KeyboardAvoider(QObject):
    """Installed once on the application (`install_keyboard_avoider`); lives as long as it."""

    def __init__(self, keyboard: TouchKeyboard, app: QApplication,
                 poll_ms: int = POLL_MS) -> None:
        super().__init__(app)
        self.keyboard = keyboard
        self._app = app
        self._field: QWidget | None = None
        self._shrunk: QScrollArea | None = None   # the scroll area given a margin
        self._bottom_before = 0                   # ... and its own bottom margin before
        self._covered = QRect()                   # the keyboard's rectangle last seen
        self._raised = False                      # we asked for it and it may be up
        self._poll = QTimer(self)
        self._poll.setInterval(poll_ms)
        self._poll.timeout.connect(self._check)
        app.focusChanged.connect(self._focus_changed)

    def stop(self) -> None:
        """Stop watching (the app's shutdown, a test's end): no timer left running."""
        self._poll.stop()
        self._app.focusChanged.disconnect(self._focus_changed)
        self._restore()

    @Slot(QWidget, QWidget)
    def _focus_changed(self, _old: QWidget | None, new: QWidget | None) -> None:
        if takes_text(new) and self.keyboard.wanted():
            assert new is not None
            self._field = new
            window = new.window().windowHandle()
            if window is not None:
                self.keyboard.show(window)
                self._raised = True
            self._poll.start()
            self._check()
            return
        self._field = None
        if self._raised and new is not None:
            # Focus moved to a button, a list...: the keyboard has nothing to type into.
            self.keyboard.hide()
            self._raised = False
        self._check()

    @Slot()
    def _check(self) -> None:
        covered = self.keyboard.occluded()
        field = self._field if self._field is not None and shiboken6.isValid(self._field) \
            else None
        if covered.isEmpty():
            if not self._covered.isEmpty():
                self._raised = False  # it went (closed by the verifier, or by us)
            self._restore()
            if field is None:
                self._poll.stop()
        elif field is not None and (covered != self._covered
                                    or not self._field_clear_of(field, covered)):
            self._keep_above(field, covered)
        self._covered = covered

    def _field_clear_of(self, field: QWidget, covered: QRect) -> bool:
        top_left = field.mapToGlobal(QPoint(0, 0))
        return not QRect(top_left, field.size()).adjusted(0, 0, 0, MARGIN_PX) \
            .intersects(covered)

    def _keep_above(self, field: QWidget, covered: QRect) -> None:
        scroll = scroll_area_of(field)
        if scroll is None:
            return
        if self._shrunk is not scroll:
            self._restore()
            self._bottom_before = scroll.viewportMargins().bottom()
        area_top_left = scroll.mapToGlobal(QPoint(0, 0))
        area = QRect(area_top_left, scroll.size())
        hidden = area.bottom() + 1 - covered.top()
        if not covered.intersects(area) or hidden <= 0:
            hidden = 0
        # Keep at least a field's height of page visible, even under a huge keyboard.
        hidden = min(hidden, max(0, scroll.height() - field.height() - 2 * MARGIN_PX))
        margins = scroll.viewportMargins()
        if margins.bottom() != self._bottom_before + hidden:
            margins.setBottom(self._bottom_before + hidden)
            scroll.setViewportMargins(margins)
        self._shrunk = scroll
        scroll_into_view(scroll, field)

    def _restore(self) -> None:
        scroll, self._shrunk = self._shrunk, None
        if scroll is not None and shiboken6.isValid(scroll):
            margins = scroll.viewportMargins()
            margins.setBottom(self._bottom_before)
            scroll.setViewportMargins(margins)


def install_keyboard_avoider(app: QApplication,
                             keyboard: TouchKeyboard | None = None) -> KeyboardAvoider | None:
    """The app's one call (kycdesk/app.py): the system's keyboard, or none off Windows."""
    from kycdesk.touch.keyboard import NoTouchKeyboard, system_keyboard

    chosen = keyboard or system_keyboard()
    if isinstance(chosen, NoTouchKeyboard):
        return None  # nothing to raise: no focus hook at all
    return KeyboardAvoider(chosen, app)
