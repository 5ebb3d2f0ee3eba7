"""The viewfinder: the camera's live picture with a frame to hold the document in, and
touch-sized buttons to take the photo, switch between the back and front cameras, or
cancel. It is window-modal and never blocks: frames arrive from the camera source, the
photo is handed over in memory (`photoTaken`) and the photo panel gives it to the case
session, which encrypts it into the captures folder and stores it like an import.

Sized to the screen it opens on (at 1366x768 it leaves room for the title bar and the
taskbar); every control is at least 44 px high.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication, QImage, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from kycdesk.core.records import Location
from kycdesk.views.camera import CameraDevice, CameraSource, CapturedPhoto, preferred_device
from kycdesk.views.style import TOUCH

# An ID-1 card (85.60 x 53.98 mm: ID cards, driving licences) and a passport's data page
# (125 x 88 mm) are close to this: the guide shows where to hold either.
DOCUMENT_RATIO = 85.60 / 53.98
FACING_WORDS = {"front": "front camera", "back": "back camera"}


class FrameView(QWidget):
    """The latest frame, scaled to fit without distortion, with the document guide."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.frame: QImage | None = None
        self.frames_shown = 0
        self.guide = True
        self.setMinimumSize(320, 240)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def show_frame(self, image: QImage) -> None:
        self.frame = image
        self.frames_shown += 1
        self.update()

    def clear(self) -> None:
        self.frame = None
        self.update()

    def picture_rect(self) -> QRectF:
        """Where the frame is drawn: the largest rectangle of its shape that fits."""
        if self.frame is None or self.frame.isNull():
            return QRectF(self.rect())
        size = QSize(self.frame.size()).scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
        left = (self.width() - size.width()) / 2
        top = (self.height() - size.height()) / 2
        return QRectF(left, top, size.width(), size.height())

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#101418"))
        if self.frame is None or self.frame.isNull():
            painter.setPen(QColor("#e8ecef"))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "Starting the camera…")
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        target = self.picture_rect()
        painter.drawImage(target, self.frame)
        if self.guide:
            width = target.width() * 0.8
            height = width / DOCUMENT_RATIO
            if height > target.height() * 0.8:
                height = target.height() * 0.8
                width = height * DOCUMENT_RATIO
            guide = QRectF(target.center().x() - width / 2, target.center().y() - height / 2,
                           width, height)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(QPen(QColor(255, 255, 255, 220), 3, Qt.PenStyle.DashLine))
            painter.drawRoundedRect(guide, 12, 12)


class Viewfinder(QDialog):
    """One photo for one slot. `photoTaken(slot, photo, location)` once, then it closes."""

    photoTaken = Signal(str, object, object)  # slot, CapturedPhoto, Location

    def __init__(self, camera: CameraSource, slot: str, title: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.camera = camera
        self.slot = slot
        self.setObjectName("viewfinder")
        self.setWindowTitle(f"Take photo — {title}")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.devices = camera.devices()
        self.device: CameraDevice | None = preferred_device(self.devices)
        self.taking = False
        self.hint = QLabel(f"<b>{title}</b> — hold the document inside the frame, flat and "
                           "filling it, then take the photo.", self)
        self.hint.setWordWrap(True)
        self.view = FrameView(self)
        self.error_label = QLabel("", self)
        self.error_label.setProperty("role", "error")
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        self.switch_button = QPushButton("", self)
        self.switch_button.setObjectName("switch-camera")
        self.switch_button.clicked.connect(self.switch_camera)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.clicked.connect(self.reject)
        self.take_button = QPushButton("Take photo", self)
        self.take_button.setObjectName("take-photo")
        self.take_button.setDefault(True)
        self.take_button.setMinimumWidth(200)
        self.take_button.clicked.connect(self.take)
        for button in (self.switch_button, self.cancel_button, self.take_button):
            button.setMinimumHeight(TOUCH)
        row = QHBoxLayout()
        row.addWidget(self.switch_button)
        row.addStretch(1)
        row.addWidget(self.cancel_button)
        row.addWidget(self.take_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.hint)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.error_label)
        layout.addLayout(row)
        self._fit_screen()
        self._show_switch()
        # Closed with its case (a lock, the tab closed) the dialog is deleted without
        # done(): the camera is stopped then too. A dict and the camera, not `self`, in the
        # handler (it runs as the object goes), and only while this viewfinder runs the
        # camera (a late deletion must not stop the next viewfinder's preview).
        self._state = state = {"running": False}
        self.destroyed.connect(lambda *_: camera.stop() if state["running"] else None)

    def _fit_screen(self) -> None:
        """As large as the screen allows with room for the window frame: a 4:3 picture
        stays big on a 1366x768 tablet and the buttons stay on screen."""
        parent = self.parentWidget()
        screen = parent.screen() if parent is not None else QGuiApplication.primaryScreen()
        available = screen.availableGeometry().size()
        self.resize(min(1100, available.width() - 48), min(720, available.height() - 64))

    def _show_switch(self) -> None:
        other = self._next_device()
        self.switch_button.setVisible(other is not None)
        if other is not None:
            words = FACING_WORDS.get(other.facing, f"camera “{other.name}”")
            self.switch_button.setText(f"Use the {words}")

    def _next_device(self) -> CameraDevice | None:
        if self.device is None or len(self.devices) < 2:
            return None
        index = self.devices.index(self.device)
        return self.devices[(index + 1) % len(self.devices)]

    # -- camera ---------------------------------------------------------------------
    def start(self) -> None:
        if self.device is None:
            self._failed("No camera is available on this device.")
            return
        self.view.clear()
        self._state["running"] = True
        self.camera.start(self.device.id, self.view.show_frame, self._failed)

    def switch_camera(self) -> None:
        other = self._next_device()
        if other is None or self.taking:
            return
        self.device = other
        self._show_switch()
        self.error_label.hide()
        self.start()

    def take(self) -> None:
        if self.taking:
            return
        self.taking = True
        self.take_button.setEnabled(False)
        self.switch_button.setEnabled(False)
        self.take_button.setText("Taking photo…")
        self.error_label.hide()
        self.camera.capture(self._captured)

    def _captured(self, photo: CapturedPhoto | None, location: Location,
                  error: str | None) -> None:
        if not self.isVisible():  # cancelled while the camera was still taking it
            return
        self.taking = False
        self.take_button.setEnabled(True)
        self.switch_button.setEnabled(True)
        self.take_button.setText("Take photo")
        if photo is None:
            self._failed(error or "The photo could not be taken. Try again.")
            return
        self.photoTaken.emit(self.slot, photo, location)
        self.accept()

    def _failed(self, message: str) -> None:
        self.error_label.setText(message)
        self.error_label.show()

    def done(self, result: int) -> None:
        if self._state["running"]:
            self._state["running"] = False
            self.camera.stop()
        super().done(result)
