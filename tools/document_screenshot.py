"""The ID-photo offer on screen: docs/screenshots/document-offer.png.

    Xvfb :97 -screen 0 1366x768x24 & DISPLAY=:97 .venv/bin/python tools/document_screenshot.py

Runs the real app on the display it is given (Xvfb at 1366×768: the window and the offer
window are both on the screenshot, which a window grab would not show): a new case, a
surname typed with a typo, a distorted passport photo (tests/mrz_samples.py) added to the
ID front slot; once its values are offered (the typo flagged, the first name typed the
same "✓ In the form"), the whole screen is saved. No window manager: the offer window has
no title bar here.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

from kycdesk.security.vault import Vault

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from kycdesk.app import KycDeskApp
from kycdesk.paths import resolve
from kycdesk.views.case_editor import CaseEditor
from kycdesk.views.field_widgets import TextEditor
from kycdesk.views.style import app_stylesheet
from tests.mrz_samples import render
from tests.test_mrz import TD3
from tools.qt_settle import settle


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="docs/screenshots/document-offer.png")
    args = parser.parse_args()
    app = QApplication(sys.argv[:1])
    app.setStyleSheet(app_stylesheet(touch_screen=True))
    with tempfile.TemporaryDirectory(prefix="kycdesk-doc-shot-") as tmp:
        paths = resolve(Path(tmp) / "data")
        vault = Vault.ephemeral("screenshots")  # a scratch store: its key dies with us
        desk = KycDeskApp(paths, vault=vault, debounce_ms=100,
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
        surname = editor.editors["applicant.last_name"]
        assert isinstance(surname, TextEditor)
        surname.line.setText("Erikson")
        surname.commit("Erikson")
        given = editor.editors["applicant.first_name"]
        assert isinstance(given, TextEditor)
        given.line.setText("Anna")
        given.commit("Anna")
        photo = Path(tmp) / "passport.jpg"
        photo.write_bytes(render(TD3, random.Random(3)))
        editor.photos.import_files("id_front", [photo])
        while editor.document_offer.dialog is None:
            settle(50)
        dialog = editor.document_offer.dialog
        dialog.move(desk.window.geometry().center() - dialog.rect().center())
        settle(600)
        screen = QGuiApplication.primaryScreen()
        screen.grabWindow(0).save(args.out)
        print(args.out)
        desk.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
