"""Run something once a widget has painted (or a deadline passed): the app starts its
deferred startup work after the verifier's cases are on the screen, not while the
first rows are being drawn (the work's imports would hold Python's GIL in long C calls
the painting has to wait for)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QWidget


class FirstPaint(QObject):
    """Calls `then()` once, in the event loop's next turn after the first paint of any
    of `widgets` — or after `deadline_ms` if none paints (a minimised window). The
    widgets are asked to repaint, so a paint that was due anyway is not missed."""

    def __init__(self, widgets: Sequence[QWidget], then: Callable[[], None], *,
                 deadline_ms: int, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._widgets = list(widgets)
        self._then: Callable[[], None] | None = then
        # Timers of its own (not QTimer.singleShot): they go with it if its owner is
        # deleted first.
        self._deadline = QTimer(self)
        self._deadline.setSingleShot(True)
        self._deadline.timeout.connect(self._fire)
        self._deadline.start(deadline_ms)
        self._after_paint = QTimer(self)
        self._after_paint.setSingleShot(True)
        self._after_paint.setInterval(0)
        self._after_paint.timeout.connect(self._fire)
        for widget in self._widgets:
            widget.installEventFilter(self)
            widget.update()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint and self._then is not None:
            self._after_paint.start()  # once this paint is done
        return False

    def _fire(self) -> None:
        then, self._then = self._then, None
        self._deadline.stop()
        self._after_paint.stop()
        for widget in self._widgets:
            # The window may have been deleted first (a test's teardown).
            with contextlib.suppress(RuntimeError):
                widget.removeEventFilter(self)
        if then is not None:
            then()

    def cancel(self) -> None:
        """Never call `then` (its owner is closing)."""
        self._then = None
        self._fire()
