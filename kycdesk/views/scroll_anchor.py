"""Keep the field being worked in still on screen while the form changes above it.

A conditional question appearing or going, or a message showing under an earlier answer,
moves everything after it: the field under the verifier's finger (or being typed in)
jumped away. `ScrollAnchor` watches the focused widget's ancestors inside one scroll
area's page; when the layout moves one of them, it scrolls by the same amount, so the
focused field stays where it was in the viewport (as far as the page's length allows).
"""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import QEvent, QObject, QPoint, Slot
from PySide6.QtWidgets import QApplication, QScrollArea, QWidget


class ScrollAnchor(QObject):
    def __init__(self, scroll: QScrollArea) -> None:
        super().__init__(scroll)
        self.scroll = scroll
        self._focus: QWidget | None = None
        self._watched: list[QWidget] = []
        self._y = 0
        app = QApplication.instance()
        assert isinstance(app, QApplication)
        app.focusChanged.connect(self._focus_changed)
        scroll.verticalScrollBar().valueChanged.connect(self._remember)

    @Slot(QWidget, QWidget)
    def _focus_changed(self, _old: QWidget | None, new: QWidget | None) -> None:
        for widget in self._watched:
            if shiboken6.isValid(widget):  # (a widget can go while it had the focus)
                widget.removeEventFilter(self)
        self._watched = []
        self._focus = None
        page = self.scroll.widget()
        if new is None or page is None or not page.isAncestorOf(new):
            return
        self._focus = new
        ancestor: QWidget | None = new
        while ancestor is not None and ancestor is not page:  # each of these can move
            ancestor.installEventFilter(self)
            self._watched.append(ancestor)
            ancestor = ancestor.parentWidget()
        self._remember()

    def _viewport_y(self) -> int:
        assert self._focus is not None
        return self._focus.mapTo(self.scroll.viewport(), QPoint(0, 0)).y()

    @Slot()
    def _remember(self) -> None:
        if self._focus is not None:
            self._y = self._viewport_y()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (event.type() == QEvent.Type.Move and self._focus is not None
                and shiboken6.isValid(self._focus)):
            moved = self._viewport_y() - self._y
            if moved:
                bar = self.scroll.verticalScrollBar()
                bar.setValue(bar.value() + moved)  # (valueChanged remembers the new y)
                self._remember()
        return False
