"""Stand-ins only where no real part exists on a test machine: the camera (and its GPS)."""

from __future__ import annotations

from kycdesk.core.records import Location
from kycdesk.demo import render_picture
from kycdesk.views.camera import CaptureDone


class FakeCamera:
    """Implements views.camera.CameraSource: "captures" a generated JPEG."""

    def __init__(self, location: Location | None = None, fail: str | None = None,
                 content: bytes | None = None) -> None:
        self.location = location or Location(51.5074, -0.1278, 8.0, None)
        self.fail = fail
        self.content = content  # instead of a photo: what a broken camera might save
        self.captures = 0

    def available(self) -> bool:
        return True

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
