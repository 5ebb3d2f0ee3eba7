"""A box to sign in with a finger, a pen or the mouse.

Each input arrives once: a pen's tablet events and a finger's touch events are accepted,
so Qt does not also synthesise mouse events from them (and synthesised ones are ignored
anyway). Points are recorded as sampled (the evidence); what is drawn, and rendered to the
PNG, is the smoothed curve through them (`core.signature.smooth`), thicker where the pen
pressed harder.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from PySide6.QtCore import QBuffer, QByteArray, QEvent, QIODevice, QPointF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QImage,
    QImageWriter,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QTabletEvent,
    QTouchEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from kycdesk.core.signature import Point, Stroke, smooth

PAD_HEIGHT = 180  # room for a signature on 1280x800 with the step's other fields above
PAD_WIDTH = 560
MOUSE_PRESSURE = 0.5  # a mouse or a finger has no pressure: the middle width


class SignaturePad(QWidget):
    """Strokes in, a picture out. `strokeFinished` after each lift of the pen."""

    strokeFinished = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("signaturePad")
        self.setAttribute(Qt.WidgetAttribute.WA_AcceptTouchEvents)
        self.setMinimumSize(QSize(PAD_WIDTH // 2, PAD_HEIGHT))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(PAD_HEIGHT)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setAccessibleName("Signature box")
        self.strokes: list[Stroke] = []
        self._current: Stroke | None = None
        self._first_ms: int | None = None

    def sizeHint(self) -> QSize:
        return QSize(PAD_WIDTH, PAD_HEIGHT)

    # -- what the editor asks -----------------------------------------------------------
    def set_strokes(self, strokes: Sequence[Stroke]) -> None:
        self.strokes = [list(stroke) for stroke in strokes]
        self._current = None
        self._first_ms = None
        self.update()

    def undo(self) -> None:
        if self.strokes:
            self.strokes.pop()
            self.update()

    def clear(self) -> None:
        self.set_strokes([])

    def render_png(self) -> bytes:
        """Black ink on white, the pad's size: what the applicant saw when they signed."""
        image = QImage(self.width(), self.height(), QImage.Format.Format_RGB32)
        image.fill(QColor("white"))
        painter = QPainter(image)
        try:
            self._draw(painter, QColor("black"))
        finally:
            painter.end()
        buffer = QBuffer()
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        if not QImageWriter(buffer, QByteArray(b"png")).write(image):
            raise RuntimeError("Qt could not write the signature as PNG")
        buffer.close()
        return bytes(buffer.data().data())

    # -- input ------------------------------------------------------------------------
    def _begin(self, position: QPointF, ms: int, pressure: float) -> None:
        if not self.isEnabled():
            return
        if self._first_ms is None or not self.strokes:
            self._first_ms = ms
        self._current = []
        self.strokes.append(self._current)
        self._add(position, ms, pressure)

    def _add(self, position: QPointF, ms: int, pressure: float) -> None:
        if self._current is None:
            return
        x = min(max(position.x(), 0.0), float(self.width()))
        y = min(max(position.y(), 0.0), float(self.height()))
        point: Point = (round(x, 1), round(y, 1), max(0, ms - (self._first_ms or 0)),
                        round(min(max(pressure, 0.0), 1.0), 3))
        if self._current and self._current[-1][:2] == point[:2]:
            return  # the pen did not move: no new point
        self._current.append(point)
        self.update()

    def _end(self) -> None:
        if self._current is None:
            return
        self._current = None
        self.strokeFinished.emit()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if self._is_real_mouse(event) and event.button() == Qt.MouseButton.LeftButton:
            self._begin(event.position(), event.timestamp(), MOUSE_PRESSURE)
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._is_real_mouse(event):
            self._add(event.position(), event.timestamp(), MOUSE_PRESSURE)
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._is_real_mouse(event) and event.button() == Qt.MouseButton.LeftButton:
            self._add(event.position(), event.timestamp(), MOUSE_PRESSURE)
            self._end()
        event.accept()

    @staticmethod
    def _is_real_mouse(event: QMouseEvent) -> bool:
        return event.source() == Qt.MouseEventSource.MouseEventNotSynthesized

    def tabletEvent(self, event: QTabletEvent) -> None:
        kind = event.type()
        if kind == QEvent.Type.TabletPress:
            self._begin(event.position(), event.timestamp(), event.pressure())
        elif kind == QEvent.Type.TabletMove:
            self._add(event.position(), event.timestamp(), event.pressure())
        elif kind == QEvent.Type.TabletRelease:
            self._end()
        event.accept()  # no mouse event is synthesised from an accepted tablet event

    def event(self, event: QEvent) -> bool:
        if isinstance(event, QTouchEvent):
            points = event.points()
            if points:  # one finger signs; a second one is ignored
                first = points[0]
                pressure = first.pressure() or MOUSE_PRESSURE
                if event.type() == QEvent.Type.TouchBegin:
                    self._begin(first.position(), event.timestamp(), pressure)
                elif event.type() == QEvent.Type.TouchUpdate:
                    self._add(first.position(), event.timestamp(), pressure)
                elif event.type() in (QEvent.Type.TouchEnd, QEvent.Type.TouchCancel):
                    self._add(first.position(), event.timestamp(), pressure)
                    self._end()
            event.accept()
            return True
        return super().event(event)

    # -- drawing ----------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        try:
            painter.fillRect(self.rect(), self.palette().color(QPalette.ColorRole.Base))
            guide = QPen(self.palette().color(QPalette.ColorRole.Mid), 1, Qt.PenStyle.DashLine)
            painter.setPen(guide)
            baseline = int(self.height() * 0.75)
            painter.drawLine(16, baseline, self.width() - 16, baseline)
            painter.drawRect(self.rect().adjusted(0, 0, -1, -1))
            self._draw(painter, self.palette().color(QPalette.ColorRole.Text))
        finally:
            painter.end()

    def _draw(self, painter: QPainter, ink: QColor) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        for stroke in self.strokes:
            points = smooth(stroke)
            if len(points) == 1:
                x, y, _, pressure = points[0]
                painter.setPen(QPen(ink, _width(pressure), Qt.PenStyle.SolidLine,
                                    Qt.PenCapStyle.RoundCap))
                painter.drawPoint(QPointF(x, y))
                continue
            for a, b in pairwise(points):
                painter.setPen(QPen(ink, _width((a[3] + b[3]) / 2), Qt.PenStyle.SolidLine,
                                    Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin))
                painter.drawLine(QPointF(a[0], a[1]), QPointF(b[0], b[1]))


def _width(pressure: float) -> float:
    return 1.2 + 2.6 * pressure
