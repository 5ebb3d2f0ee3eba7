"""The app with its real wiring, started for a test (the camera at the app's camera seam).
One helper for every module's `desk` fixture."""

from __future__ import annotations

from collections.abc import Callable

from pytestqt.qtbot import QtBot

from kycdesk.app import KycDeskApp
from kycdesk.paths import DataPaths
from kycdesk.views.camera import CameraSource
from tests.fakes import FakeCamera, always_yes
from tests.vaults import make_vault


def started_desk(qtbot: QtBot, paths: DataPaths, *, debounce_ms: int = 150,
                 camera_factory: Callable[[], CameraSource] = FakeCamera) -> KycDeskApp:
    """Started and reading (the caller shuts it down)."""
    app = KycDeskApp(paths, debounce_ms=debounce_ms, camera_factory=camera_factory,
                     confirm=always_yes, vault=make_vault())
    qtbot.addWidget(app.window)
    assert app.start(), app.startup_error
    qtbot.waitUntil(lambda: app.reader is not None, timeout=10_000)
    return app
