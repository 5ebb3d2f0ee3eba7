"""The screenshot tools' one wait: let Qt lay out and paint before a picture is taken."""

from __future__ import annotations

from PySide6.QtCore import QEventLoop, QTimer


def settle(ms: int = 150) -> None:
    """Run the event loop for `ms` (layouts, deferred paints, queued signals)."""
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()
