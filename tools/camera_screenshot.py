"""The camera viewfinder on screen: docs/screenshots/camera-viewfinder.png.

    Xvfb :96 -screen 0 1366x768x24 & DISPLAY=:96 .venv/bin/python tools/camera_screenshot.py

Runs the real app on the display it is given (Xvfb at 1366×768, so the window and the
viewfinder over it are both on the screenshot) with the test suite's fake camera (a back
and a front camera; this machine has no /dev/video* and no v4l2loopback), whose preview
frames here are a generated passport page (tests/mrz_samples.py) as a camera held over a
desk would see it: a new case, "Take photo" on the ID front slot; once frames show, the
whole screen is saved. No window manager: the viewfinder has no title bar here. Then
xdotool presses the viewfinder's "Take photo" (a real X click) and the tool waits for the
photo to be stored in the case (printed: "stored: …"), through the app's own capture path.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import QApplication

from kycdesk.app import KycDeskApp
from kycdesk.paths import resolve
from kycdesk.security.vault import Vault
from kycdesk.views.case_editor import CaseEditor
from kycdesk.views.style import app_stylesheet
from tests.fakes import FakeCamera
from tests.mrz_samples import render
from tests.test_mrz import TD3
from tools.qt_settle import settle


class PassportCamera(FakeCamera):
    """The fake camera, its preview a passport page on a desk (4:3, like a camera's)."""

    def __init__(self) -> None:
        super().__init__()
        page = QImage.fromData(render(TD3, random.Random(5), width=1000))
        self.picture = QImage(1280, 960, QImage.Format.Format_RGB32)
        self.picture.fill(0x5a4a3a)
        from PySide6.QtGui import QPainter

        painter = QPainter(self.picture)
        painter.drawImage((1280 - page.width()) // 2, (960 - page.height()) // 2, page)
        painter.end()

    def frame(self) -> QImage:
        return self.picture



def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="docs/screenshots/camera-viewfinder.png")
    args = parser.parse_args()
    app = QApplication(sys.argv[:1])
    app.setStyleSheet(app_stylesheet(touch_screen=True))
    with tempfile.TemporaryDirectory(prefix="kycdesk-camera-shot-") as tmp:
        paths = resolve(Path(tmp) / "data")
        vault = Vault.ephemeral("screenshots")  # a scratch store: its key dies with us
        desk = KycDeskApp(paths, vault=vault, debounce_ms=100, camera_factory=PassportCamera,
                          confirm=lambda *_: True)
        if not desk.start():
            print(desk.startup_error)
            return 1
        desk.window.setGeometry(0, 0, 1366, 768)
        desk.window.show()
        while desk.reader is None:
            settle(20)
        desk.new_case()
        while not isinstance(desk.window.tabs.currentWidget(), CaseEditor):
            settle(20)
        editor = desk.window.tabs.currentWidget()
        assert isinstance(editor, CaseEditor)
        editor.photos.capture("id_front")
        viewfinder = editor.photos.viewfinder
        assert viewfinder is not None
        while viewfinder.view.frames_shown < 3:
            settle(50)
        viewfinder.move(desk.window.geometry().center() - viewfinder.rect().center())
        settle(400)
        QGuiApplication.primaryScreen().grabWindow(0).save(args.out)
        print(args.out, viewfinder.geometry())
        button = viewfinder.take_button
        centre = button.mapToGlobal(button.rect().center())
        subprocess.run(["xdotool", "mousemove", str(centre.x()), str(centre.y()), "click", "1"],
                       check=True)
        photos = editor.session.photos["id_front"]
        for _ in range(200):
            if photos.rowCount():
                break
            settle(50)
        stored = photos.images[0] if photos.rowCount() else None
        print("stored:" if stored else "NOT stored", stored.source if stored else "",
              paths.absolute(stored.file_path).parent.name if stored else "",
              "captures left:", sorted(p.name for p in paths.captures_dir.iterdir()))
        desk.shutdown()
        if stored is None:
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
