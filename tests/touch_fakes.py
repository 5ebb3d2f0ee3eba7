"""A touch keyboard for tests (kycdesk.touch.keyboard.TouchKeyboard): it says whether it
is wanted as told, records what the app asked of it, and covers the screen rectangle it
was given while it is "up" — optionally only after a few polls, as Windows' slides in."""

from __future__ import annotations

from PySide6.QtCore import QRect
from PySide6.QtGui import QWindow


class FakeTouchKeyboard:
    def __init__(self, covers: QRect, *, wanted: bool = True, slides_in_polls: int = 0) -> None:
        self.covers = covers
        self.is_wanted = wanted
        self.slides_in_polls = slides_in_polls
        self.shown: list[QWindow] = []
        self.hidden = 0
        self.up = False
        self._polls_since_shown = 0

    def wanted(self) -> bool:
        return self.is_wanted

    def show(self, window: QWindow) -> None:
        self.shown.append(window)
        if not self.up:
            self._polls_since_shown = 0
        self.up = True

    def hide(self) -> None:
        self.hidden += 1
        self.up = False

    def occluded(self) -> QRect:
        if not self.up:
            return QRect()
        self._polls_since_shown += 1
        if self._polls_since_shown <= self.slides_in_polls:
            return QRect()
        return QRect(self.covers)
