"""The mouse wheel scrolls the form; it never changes an answer.

A verifier picks Title "Ms" and rolls the wheel to read on with the pointer still over the
drop-down: a drop-down, a spin box or a slider that takes the wheel turns "Ms" into "Dr",
and it is saved and synced. So no editor takes the wheel, focused or not. A choice is
changed on purpose by opening it (its popup list, the calendar), and an open popup gets the
wheel itself — it is a separate window this guard is not installed on.

The only widgets that keep the wheel are text boxes and lists with something to scroll,
and only while the verifier is working in them (focused): scrolling them changes no value.
Everything else is handed to the form's scroll area, so the page moves as expected.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QAbstractScrollArea, QApplication, QWidget


class WheelGuard(QObject):
    """Event filter installed on every widget of an editor (see `guard_against_wheel`)."""

    def __init__(self, owner: QWidget) -> None:
        super().__init__(owner)
        self._owner = owner

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() != QEvent.Type.Wheel or not isinstance(watched, QWidget) \
                or not isinstance(event, QWheelEvent):
            return False
        if watched.window() is not self._owner.window():
            return False  # an open popup list or calendar: opened on purpose, it scrolls
        if _scrolls_itself(watched):
            return False
        _hand_to_form(self._owner, event)
        return True


def _scrolls_itself(widget: QWidget) -> bool:
    """A focused text box or list with more than fits keeps the wheel (no value changes)."""
    parent = widget.parentWidget()
    if isinstance(widget, QAbstractScrollArea):
        area = widget
    elif isinstance(parent, QAbstractScrollArea) and widget is parent.viewport():
        area = parent
    else:
        return False
    focus = QApplication.focusWidget()
    focused = focus is not None and (focus is area or area.isAncestorOf(focus))
    bar = area.verticalScrollBar()
    return focused and bar.maximum() > bar.minimum()


def _form_area(owner: QWidget) -> QAbstractScrollArea | None:
    """The nearest scroll area around the guarded editor: the form's page."""
    parent = owner.parentWidget()
    while parent is not None:
        if isinstance(parent, QAbstractScrollArea):
            return parent
        parent = parent.parentWidget()
    return None


def _hand_to_form(owner: QWidget, event: QWheelEvent) -> None:
    """Send the wheel to the form's scroll area (as if the pointer were over a blank part
    of the page) and swallow it here, so the editor never sees it."""
    event.accept()
    area = _form_area(owner)
    if area is None:
        return
    viewport = area.viewport()
    global_position = event.globalPosition()
    local = QPointF(viewport.mapFromGlobal(global_position.toPoint()))
    forwarded = QWheelEvent(local, global_position, event.pixelDelta(), event.angleDelta(),
                            event.buttons(), event.modifiers(), event.phase(),
                            event.inverted(), event.source())
    QApplication.sendEvent(viewport, forwarded)


def guard_against_wheel(root: QWidget) -> WheelGuard:
    """Install one guard on `root` and everything in it (drop-downs, spin boxes, date
    boxes, buttons, text and list boxes alike). Focus comes by click or Tab, never by the
    wheel."""
    guard = WheelGuard(root)
    for widget in [root, *root.findChildren(QWidget)]:
        if widget.focusPolicy() == Qt.FocusPolicy.WheelFocus:
            widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        widget.installEventFilter(guard)
    return guard
