"""Stand-ins only where no real part exists on a test machine: the camera (and its GPS)."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtGui import QImage

from kycdesk.core.records import Location
from kycdesk.demo import render_picture
from kycdesk.views.camera import CameraDevice, CameraFailed, CaptureDone, FrameShown

BACK = CameraDevice("fake-back", "Fake back camera", "back")
FRONT = CameraDevice("fake-front", "Fake front camera", "front")


class FakeCamera:
    """Implements views.camera.CameraSource: a back and a front camera (or `devices`)
    whose preview is a generated picture every 100 ms, as a real camera's frames arrive
    (asynchronously, on the GUI thread); "captures" a generated photo in memory."""

    def __init__(self, location: Location | None = None, fail: str | None = None,
                 content: bytes | None = None,
                 devices: list[CameraDevice] | None = None) -> None:
        self.location = location or Location(51.5074, -0.1278, 8.0, None)
        self.fail = fail
        self.content = content  # instead of a photo: what a broken camera might save
        self.captures = 0
        self.cameras = [BACK, FRONT] if devices is None else devices
        self.started: list[str] = []  # every start, in order (the switch is seen here)
        self.running: str | None = None
        self.frames = 0
        self._timer: QTimer | None = None
        self._on_frame: FrameShown | None = None

    def available(self) -> bool:
        return bool(self.cameras)

    def devices(self) -> list[CameraDevice]:
        return list(self.cameras)

    def start(self, device_id: str, on_frame: FrameShown, on_error: CameraFailed) -> None:
        self.stop()
        self.started.append(device_id)
        self.running = device_id
        self._on_frame = on_frame
        self._timer = QTimer()
        self._timer.setInterval(100)
        self._timer.timeout.connect(self._next_frame)
        self._timer.start()

    def _next_frame(self) -> None:
        if self._on_frame is not None:
            self.frames += 1
            self._on_frame(self.frame())

    def frame(self) -> QImage:
        name = next((c.facing for c in self.cameras if c.id == self.running), "")
        return render_picture(label=f"{name.upper()} CAMERA", subtitle="live preview",
                              seed=len(self.started), size=(640, 480))

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer.deleteLater()
        self._timer = None
        self._on_frame = None
        self.running = None

    def capture(self, done: CaptureDone) -> None:
        self.captures += 1
        if self.fail:
            done(None, Location(), self.fail)
            return
        if self.content is not None:
            done(self.content, self.location, None)  # what a broken camera might hand over
            return
        # A frame in memory, as QImageCapture hands it over (never a file).
        done(render_picture(label="CAMERA", subtitle="fake capture", seed=self.captures,
                            size=(640, 480)), self.location, None)


def always_yes(_parent: object, _question: str) -> bool:
    return True
