"""Photo capture behind a small interface.

`CameraSource` is what the photo panel needs: is a camera there, and capture one photo
IN MEMORY (asynchronously) with the device position when one is known. The photo is
never written by the camera: the case session encrypts it into the data folder's
`captures/` (persistence.captures), so no clear copy of an ID document is ever on disk
(QImageCapture.captureToFile would write a clear JPEG). The real
implementation uses QtMultimedia and QtPositioning (PySide6-Addons); they are imported
lazily so the app and its tests run where those modules or a camera are missing (the
"Take photo" button is then hidden). Tests use a fake that hands over a generated JPEG's bytes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from PySide6.QtGui import QImage

from kycdesk.core.records import Location

log = logging.getLogger(__name__)

# (the photo: a frame to encode or an encoded photo's bytes; or None), location, error
CapturedPhoto = QImage | bytes
CaptureDone = Callable[[CapturedPhoto | None, Location, str | None], None]


class CameraSource(Protocol):
    def available(self) -> bool: ...

    def capture(self, done: CaptureDone) -> None:
        """Take one photo and hand it to `done` in memory (never as a file)."""
        ...


class NoCamera:
    def available(self) -> bool:
        return False

    def capture(self, done: CaptureDone) -> None:
        done(None, Location(), "No camera is available on this device.")


class QtCameraSource:
    """QCamera + QImageCapture; position from QGeoPositionInfoSource when available."""

    def __init__(self) -> None:
        self._session: Any = None
        self._position: Any = None
        try:
            from PySide6.QtMultimedia import QMediaDevices

            self._devices = QMediaDevices.videoInputs()
        except ImportError as exc:  # PySide6-Addons or libpulse missing
            log.info("camera support not available: %s", exc)
            self._devices = []
        try:
            from PySide6.QtCore import QObject
            from PySide6.QtPositioning import QGeoPositionInfoSource

            self._owner = QObject()
            self._position = QGeoPositionInfoSource.createDefaultSource(self._owner)
            if self._position is not None:
                self._position.startUpdates()
        except ImportError:
            self._position = None

    def available(self) -> bool:
        return bool(self._devices)

    def _location(self) -> Location:
        if self._position is None:
            return Location()
        info = self._position.lastKnownPosition()
        if not info.isValid():
            return Location()
        coordinate = info.coordinate()
        from PySide6.QtPositioning import QGeoPositionInfo

        accuracy = (info.attribute(QGeoPositionInfo.Attribute.HorizontalAccuracy)
                    if info.hasAttribute(QGeoPositionInfo.Attribute.HorizontalAccuracy)
                    else None)
        return Location(coordinate.latitude(), coordinate.longitude(), accuracy, None)

    def capture(self, done: CaptureDone) -> None:
        from PySide6.QtMultimedia import QCamera, QImageCapture, QMediaCaptureSession, QVideoFrame

        camera = QCamera(self._devices[0])
        session = QMediaCaptureSession()
        capture = QImageCapture()
        session.setCamera(camera)
        session.setImageCapture(capture)
        self._session = (camera, session, capture)  # keep alive until done

        def available(_id: int, frame: QVideoFrame) -> None:
            camera.stop()
            self._session = None
            image = frame.toImage()  # the full frame, in memory only
            if image.isNull():
                done(None, Location(), "The camera could not take the photo.")
                return
            done(image, self._location(), None)

        def failed(_id: int, _error: object, message: str) -> None:
            camera.stop()
            self._session = None
            done(None, Location(), f"The camera could not take the photo: {message}")

        capture.imageAvailable.connect(available)
        capture.errorOccurred.connect(failed)
        camera.start()
        capture.capture()


def default_camera() -> CameraSource:
    try:
        source = QtCameraSource()
    except Exception as exc:  # any backend failure means "no camera", not a crash
        log.warning("camera backend failed to start: %s", exc)
        return NoCamera()
    return source if source.available() else NoCamera()
