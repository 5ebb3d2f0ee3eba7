"""Photo capture behind a small interface.

`CameraSource` is what the photo panel needs: is a camera there, and capture one photo
into a folder (asynchronously) with the device position when one is known. The real
implementation uses QtMultimedia and QtPositioning (PySide6-Addons); they are imported
lazily so the app and its tests run where those modules or a camera are missing (the
"Take photo" button is then hidden). Tests use a fake that writes a generated JPEG.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from kycdesk.core.records import Location

log = logging.getLogger(__name__)

# (file or None, location, error message or None)
CaptureDone = Callable[[Path | None, Location, str | None], None]


class CameraSource(Protocol):
    def available(self) -> bool: ...

    def capture(self, folder: Path, done: CaptureDone) -> None:
        """Save one photo as a new file in `folder` (which exists and is private)."""
        ...


class NoCamera:
    def available(self) -> bool:
        return False

    def capture(self, folder: Path, done: CaptureDone) -> None:
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

    def capture(self, folder: Path, done: CaptureDone) -> None:
        from PySide6.QtMultimedia import QCamera, QImageCapture, QMediaCaptureSession

        target = folder / f"capture_{uuid.uuid4().hex}.jpg"
        camera = QCamera(self._devices[0])
        session = QMediaCaptureSession()
        capture = QImageCapture()
        session.setCamera(camera)
        session.setImageCapture(capture)
        self._session = (camera, session, capture)  # keep alive until done

        def saved(_id: int, file_name: str) -> None:
            camera.stop()
            self._session = None
            done(Path(file_name), self._location(), None)

        def failed(_id: int, _error: object, message: str) -> None:
            camera.stop()
            self._session = None
            done(None, Location(), f"The camera could not take the photo: {message}")

        capture.imageSaved.connect(saved)
        capture.errorOccurred.connect(failed)
        camera.start()
        capture.captureToFile(str(target))


def default_camera() -> CameraSource:
    try:
        source = QtCameraSource()
    except Exception as exc:  # any backend failure means "no camera", not a crash
        log.warning("camera backend failed to start: %s", exc)
        return NoCamera()
    return source if source.available() else NoCamera()
