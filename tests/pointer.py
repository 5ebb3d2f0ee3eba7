"""A real pointer stroke on a widget (QTest mouse events): press, moves, release — how a
finger or a mouse signs on the pad."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QWidget


def drag(widget: QWidget, points: Sequence[tuple[int, int]], delay_ms: int = 5) -> None:
    QTest.mousePress(widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     QPoint(*points[0]))
    for x, y in points[1:]:
        QTest.mouseMove(widget, QPoint(x, y), delay_ms)
    QTest.mouseRelease(widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                       QPoint(*points[-1]))
