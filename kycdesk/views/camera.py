"""Photo capture behind a small interface.

`CameraSource` is what the viewfinder and the photo panel need: which cameras there are
(front, back), a live preview of one, and one photo taken IN MEMORY (asynchronously) with
the device position when one is known. The photo is never written by the camera: the
case session encrypts it into the data folder's `captures/` (persistence.captures), so no
clear copy of an ID document is ever on disk (QImageCapture.captureToFile would write a
clear JPEG). The real implementation uses QtMultimedia and QtPositioning (PySide6-Addons);
they are imported lazily so the app and its tests run where those modules or a camera are
missing (the "Take photo" button is then hidden). Tests use a fake that feeds generated
frames and hands over a generated photo.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from PySide6.QtGui import QImage

from kycdesk.core.records import Location

log = logging.getLogger(__name__)

# (the photo: a frame to encode or an encoded photo's bytes; or None), location, error
CapturedPhoto = QImage | bytes
CaptureDone = Callable[[CapturedPhoto | None, Location, str | None], None]
FrameShown = Callable[[QImage], None]
CameraFailed = Callable[[str], None]


@dataclass(frozen=True)
class CameraDevice:
    """One camera: `facing` is "front" (towards the verifier), "back" or "" (unknown,
    e.g. a USB webcam)."""

    id: str
    name: str
    facing: str = ""


class CameraSource(Protocol):
    def available(self) -> bool: ...

    def devices(self) -> list[CameraDevice]: ...

    def start(self, device_id: str, on_frame: FrameShown, on_error: CameraFailed) -> None:
        """Start the preview of one camera: frames go to `on_frame` (GUI thread)."""
        ...

    def stop(self) -> None: ...

    def capture(self, done: CaptureDone) -> None:
        """Take one photo with the started camera (the first one if none was started)
        and hand it to `done` in memory (never as a file)."""
        ...


def preferred_device(devices: list[CameraDevice]) -> CameraDevice | None:
    """The back camera first: ID documents are photographed facing away from the
    verifier; the front one is for the applicant's own photo (the switch)."""
    backs = [device for device in devices if device.facing == "back"]
    candidates = backs or devices
    return candidates[0] if candidates else None


class NoCamera:
    def available(self) -> bool:
        return False

    def devices(self) -> list[CameraDevice]:
        return []

    def start(self, device_id: str, on_frame: FrameShown, on_error: CameraFailed) -> None:
        on_error("No camera is available on this device.")

    def stop(self) -> None:
        pass

    def capture(self, done: CaptureDone) -> None:
        done(None, Location(), "No camera is available on this device.")


def best_format(formats: list[Any]) -> Any | None:
    """The camera format a photo of an ID document should be taken in: the most pixels
    (QImageCapture takes the frame at the camera's format: a 640×480 default makes the
    MRZ unreadable) among those that still give a live preview (≥ 10 frames/s), else
    the most pixels at all. `formats`: QCameraFormat-like (resolution(), maxFrameRate())."""
    def pixels(camera_format: Any) -> int:
        size = camera_format.resolution()
        return int(size.width()) * int(size.height())

    smooth = [f for f in formats if f.maxFrameRate() >= 10]
    pool = smooth or formats
    return max(pool, key=lambda f: (pixels(f), f.maxFrameRate()), default=None)


def list_cameras() -> list[CameraDevice]:
    """The cameras QtMultimedia sees (raises ImportError without PySide6-Addons)."""
    from PySide6.QtMultimedia import QCameraDevice, QMediaDevices

    facing = {QCameraDevice.Position.FrontFace: "front",
              QCameraDevice.Position.BackFace: "back"}
    return [CameraDevice(bytes(device.id().data()).decode("utf-8", "replace"),
                         device.description(), facing.get(device.position(), ""))
            for device in QMediaDevices.videoInputs()]


class QtCameraSource:
    """QCamera + QImageCapture + QVideoSink (the preview, painted by the viewfinder
    itself: no QtMultimediaWidgets in the bundle); position from QGeoPositionInfoSource
    when available."""

    def __init__(self) -> None:
        self._position: Any = None
        self._running: Any = None  # (camera, session, capture, sink) while started
        self._on_error: CameraFailed | None = None
        try:
            from PySide6.QtMultimedia import QMediaDevices

            self._devices = {bytes(device.id().data()).decode("utf-8", "replace"): device
                             for device in QMediaDevices.videoInputs()}
            self._listed = list_cameras()
        except ImportError as exc:  # PySide6-Addons or libpulse missing
            log.info("camera support not available: %s", exc)
            self._devices, self._listed = {}, []
        try:
            from PySide6.QtCore import QObject
            from PySide6.QtPositioning import QGeoPositionInfoSource

            self._owner = QObject()
            # GeoClue asks which app wants the position (its agent may ask the user).
            self._position = QGeoPositionInfoSource.createDefaultSource(
                {"desktopId": "kycdesk"}, self._owner)
            if self._position is not None:
                self._position.startUpdates()
        except ImportError:
            self._position = None

    def available(self) -> bool:
        return bool(self._devices)

    def devices(self) -> list[CameraDevice]:
        return list(self._listed)

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

    def start(self, device_id: str, on_frame: FrameShown, on_error: CameraFailed) -> None:
        from PySide6.QtMultimedia import (
            QCamera,
            QImageCapture,
            QMediaCaptureSession,
            QVideoFrame,
            QVideoSink,
        )

        self.stop()
        device = self._devices.get(device_id)
        if device is None:
            on_error("This camera is no longer connected.")
            return
        camera = QCamera(device)
        chosen = best_format(list(device.videoFormats()))
        if chosen is not None:
            camera.setCameraFormat(chosen)
        session = QMediaCaptureSession()
        capture = QImageCapture()
        sink = QVideoSink()
        session.setCamera(camera)
        session.setImageCapture(capture)
        session.setVideoSink(sink)

        def frame(video_frame: QVideoFrame) -> None:
            image = video_frame.toImage()
            if not image.isNull():
                on_frame(image)

        def camera_failed(_error: object, message: str) -> None:
            on_error(f"The camera stopped: {message}")

        sink.videoFrameChanged.connect(frame)
        camera.errorOccurred.connect(camera_failed)
        self._running = (camera, session, capture, sink)
        self._on_error = on_error
        camera.start()

    def stop(self) -> None:
        if self._running is not None:
            camera = self._running[0]
            camera.stop()
            self._running = None

    def capture(self, done: CaptureDone) -> None:
        if self._running is None:
            first = preferred_device(self._listed)
            if first is None:
                done(None, Location(), "No camera is available on this device.")
                return
            self.start(first.id, lambda _image: None,
                       lambda message: done(None, Location(), message))
            if self._running is None:
                return
        from PySide6.QtMultimedia import QVideoFrame

        capture = self._running[2]
        finished: list[bool] = []
        connected: list[tuple[Any, Callable[..., None]]] = []

        def finish() -> None:
            finished.append(True)
            for signal, slot in connected:  # this photo's handlers go with it
                signal.disconnect(slot)
            connected.clear()

        def available(_id: int, frame: QVideoFrame) -> None:
            if finished:
                return
            finish()
            image = frame.toImage()  # the full frame, in memory only
            if image.isNull():
                done(None, Location(), "The camera could not take the photo.")
                return
            done(image, self._location(), None)

        def failed(_id: int, _error: object, message: str) -> None:
            if finished:
                return
            finish()
            done(None, Location(), f"The camera could not take the photo: {message}")

        def ready(is_ready: bool) -> None:  # the camera was still starting
            if is_ready and not finished:
                capture.readyForCaptureChanged.disconnect(ready)
                connected.remove((capture.readyForCaptureChanged, ready))
                capture.capture()

        for signal, slot in ((capture.imageAvailable, available),
                             (capture.errorOccurred, failed)):
            signal.connect(slot)
            connected.append((signal, slot))
        if capture.isReadyForCapture():
            capture.capture()
        else:
            capture.readyForCaptureChanged.connect(ready)
            connected.append((capture.readyForCaptureChanged, ready))


def default_camera() -> CameraSource:
    try:
        source = QtCameraSource()
    except Exception as exc:  # any backend failure means "no camera", not a crash
        log.warning("camera backend failed to start: %s", exc)
        return NoCamera()
    return source if source.available() else NoCamera()
