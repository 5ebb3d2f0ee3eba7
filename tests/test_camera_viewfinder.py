"""The viewfinder with the fake camera (a back and a front camera feeding generated
frames), and the real QtMultimedia backend where PySide6-Addons is installed (the bundle
extra): cameras listed, none on a machine without /dev/video* (no virtual device can be
made without the v4l2loopback kernel module)."""

from __future__ import annotations

import importlib.util

import pytest
from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QPushButton, QWidget
from pytestqt.qtbot import QtBot

from kycdesk.views.camera import CameraDevice, NoCamera, best_format, preferred_device
from kycdesk.views.camera_viewfinder import Viewfinder
from kycdesk.views.style import TOUCH
from tests.fakes import BACK, FRONT, FakeCamera

HAS_MULTIMEDIA = importlib.util.find_spec("PySide6.QtMultimedia") is not None


def _open(qtbot: QtBot, camera: FakeCamera, parent: QWidget | None = None) -> Viewfinder:
    viewfinder = Viewfinder(camera, "id_front", "ID document — front", parent)
    qtbot.addWidget(viewfinder)
    viewfinder.show()
    viewfinder.start()
    qtbot.waitUntil(lambda: viewfinder.view.frames_shown > 0, timeout=5_000)
    return viewfinder


def test_the_back_camera_is_used_first_and_the_switch_goes_to_the_front(qtbot: QtBot) -> None:
    camera = FakeCamera(devices=[FRONT, BACK])  # listed front first, as laptops do
    viewfinder = _open(qtbot, camera)
    assert camera.started == ["fake-back"]
    assert viewfinder.switch_button.isVisible()
    assert viewfinder.switch_button.text() == "Use the front camera"
    shown = viewfinder.view.frames_shown
    viewfinder.switch_button.click()
    assert camera.started == ["fake-back", "fake-front"] and camera.running == "fake-front"
    assert viewfinder.switch_button.text() == "Use the back camera"
    qtbot.waitUntil(lambda: viewfinder.view.frames_shown > shown, timeout=5_000)
    viewfinder.switch_button.click()
    assert camera.running == "fake-back"


def test_one_camera_has_no_switch(qtbot: QtBot) -> None:
    camera = FakeCamera(devices=[CameraDevice("usb", "USB webcam")])
    viewfinder = _open(qtbot, camera)
    assert not viewfinder.switch_button.isVisible()
    assert camera.started == ["usb"]


def test_take_hands_the_photo_over_once_and_releases_the_camera(qtbot: QtBot) -> None:
    camera = FakeCamera()
    viewfinder = _open(qtbot, camera)
    with qtbot.waitSignal(viewfinder.photoTaken, timeout=5_000) as taken:
        viewfinder.take_button.click()
    slot, photo, location = taken.args
    assert slot == "id_front" and not photo.isNull()
    assert location.latitude == pytest.approx(51.5074)
    assert not viewfinder.isVisible() and camera.running is None
    assert camera.captures == 1


def test_cancel_releases_the_camera_and_takes_nothing(qtbot: QtBot) -> None:
    camera = FakeCamera()
    viewfinder = _open(qtbot, camera)
    with qtbot.assertNotEmitted(viewfinder.photoTaken):
        viewfinder.cancel_button.click()
    assert camera.running is None and camera.captures == 0


def _started(qtbot: QtBot, camera: FakeCamera, parent: QWidget | None = None
             ) -> tuple[Viewfinder, list[bool]]:
    """A viewfinder that is deleted in the test (not handed to qtbot), and a list that
    fills when it is gone."""
    viewfinder = Viewfinder(camera, "id_front", "ID document — front", parent)
    gone: list[bool] = []
    viewfinder.destroyed.connect(lambda *_: gone.append(True))
    viewfinder.show()
    viewfinder.start()
    qtbot.waitUntil(lambda: viewfinder.view.frames_shown > 0, timeout=5_000)
    return viewfinder, gone


def test_closed_with_its_case_it_releases_the_camera(qtbot: QtBot) -> None:
    """The case's tab closes (or the desk locks) with the viewfinder open: it is deleted
    with its parent, not closed, and the camera still stops."""
    parent = QWidget()
    camera = FakeCamera()
    _viewfinder, gone = _started(qtbot, camera, parent)
    assert camera.running == "fake-back"
    parent.deleteLater()
    qtbot.waitUntil(lambda: bool(gone), timeout=5_000)
    assert camera.running is None


def test_a_late_deletion_does_not_stop_the_next_preview(qtbot: QtBot) -> None:
    camera = FakeCamera()
    first, gone = _started(qtbot, camera)
    first.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    first.cancel_button.click()  # closed now, deleted later
    second = _open(qtbot, camera)
    qtbot.waitUntil(lambda: bool(gone), timeout=5_000)
    assert camera.running == "fake-back" and second.isVisible()


def test_without_a_camera_it_says_so(qtbot: QtBot) -> None:
    viewfinder = Viewfinder(NoCamera(), "selfie", "Selfie")
    qtbot.addWidget(viewfinder)
    viewfinder.show()
    viewfinder.start()
    assert "No camera" in viewfinder.error_label.text()
    assert not viewfinder.switch_button.isVisible()


def test_fits_1366x768_with_touch_sized_controls(qtbot: QtBot) -> None:
    """At the size it takes on a 1366x768 screen (its frame and the taskbar aside) every
    control is on screen and at least 44 px high, and the picture gets most of it."""
    viewfinder = _open(qtbot, FakeCamera())
    assert viewfinder.minimumSizeHint().width() <= 1366 - 48
    assert viewfinder.minimumSizeHint().height() <= 768 - 64
    viewfinder.resize(1366 - 48, 768 - 64)
    qtbot.waitUntil(lambda: viewfinder.view.height() > 400, timeout=5_000)
    inside = viewfinder.rect()
    for button in viewfinder.findChildren(QPushButton):
        if button.isVisible():
            assert button.height() >= TOUCH, button.text()
            top_left = button.mapTo(viewfinder, button.rect().topLeft())
            bottom_right = button.mapTo(viewfinder, button.rect().bottomRight())
            assert inside.contains(top_left) and inside.contains(bottom_right), button.text()
    picture = viewfinder.view.picture_rect()
    assert picture.height() >= 0.6 * viewfinder.height()
    assert picture.width() / picture.height() == pytest.approx(640 / 480, rel=0.01)


def test_preferred_device_is_the_back_one() -> None:
    usb = CameraDevice("usb", "USB webcam")
    assert preferred_device([FRONT, usb, BACK]) == BACK
    assert preferred_device([usb, FRONT]) == usb
    assert preferred_device([]) is None


class _Format:
    def __init__(self, width: int, height: int, fps: float) -> None:
        self.size, self.fps = QSize(width, height), fps

    def resolution(self) -> QSize:
        return self.size

    def maxFrameRate(self) -> float:
        return self.fps


def test_the_photo_format_is_the_largest_that_still_previews() -> None:
    vga, hd, uhd_slow = _Format(640, 480, 30), _Format(1920, 1080, 30), _Format(3840, 2160, 5)
    assert best_format([vga, uhd_slow, hd]) is hd
    assert best_format([uhd_slow, _Format(1280, 720, 8)]) is uhd_slow  # none previews well
    faster = _Format(1920, 1080, 30)
    assert best_format([_Format(1920, 1080, 15), faster]) is faster
    assert best_format([]) is None


@pytest.mark.skipif(not HAS_MULTIMEDIA, reason="PySide6-Addons (the bundle extra) not installed")
def test_the_real_backend_lists_cameras_and_the_self_test_says_so(qtbot: QtBot) -> None:
    """The real QtMultimedia FFmpeg backend: it loads (it lists the formats it decodes)
    and lists the cameras it finds; with none (this machine has no /dev/video*) the app
    offers file import only and the self-test passes saying so."""
    from pathlib import Path

    from kycdesk.selftest import _camera
    from kycdesk.views.camera import default_camera, list_cameras

    cameras = list_cameras()
    line = _camera()
    assert line.startswith("multimedia plugin loaded (")
    camera = default_camera()
    if list(Path("/dev").glob("video*")):
        assert camera.available() == bool(cameras)
    else:
        assert cameras == [] and isinstance(camera, NoCamera)
        assert "cameras: none found on this device" in line
