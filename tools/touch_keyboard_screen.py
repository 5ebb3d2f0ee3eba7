"""Screenshots of the touch keyboard's focus hook at 1366×768, the fake keyboard's
rectangle drawn where Windows' docked touch keyboard would be (kycdesk/touch/avoider.py):

    xvfb-run -s "-screen 0 1366x768x24" .venv/bin/python tools/touch_keyboard_screen.py
        [--out docs/screenshots]

Writes touch-keyboard-before.png (the field the verifier taps, where the keyboard will
come) and touch-keyboard-field-above.png (the keyboard up, the field scrolled above it).
Runs offscreen when no display is given.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

if not os.environ.get("DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPixmap
from PySide6.QtWidgets import QApplication, QLineEdit, QScrollArea

from kycdesk.app import KycDeskApp
from kycdesk.paths import resolve
from kycdesk.security.vault import Vault
from kycdesk.touch.avoider import KeyboardAvoider, takes_text
from kycdesk.views.case_editor import CaseEditor
from kycdesk.views.style import app_stylesheet
from tests.touch_fakes import FakeTouchKeyboard
from tools.qt_settle import settle

SCREEN = QRect(0, 0, 1366, 768)
KEYBOARD = QRect(0, 768 - 330, 1366, 330)



def with_keyboard(shot: QPixmap, origin: QPoint, up: bool) -> QPixmap:
    """The window's picture with the keyboard's rectangle over it (outlined when not up)."""
    painter = QPainter(shot)
    box = KEYBOARD.translated(-origin)
    if up:
        painter.fillRect(box, QColor(40, 40, 48, 225))
        painter.setPen(QColor("white"))
        painter.setFont(QFont(painter.font().family(), 16))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter,
                         "touch keyboard (test double: Windows' docked keyboard, 330 px)")
    else:
        painter.setPen(QColor(200, 40, 40))
        painter.drawRect(box.adjusted(1, 1, -2, -2))
        painter.drawText(box.adjusted(8, 6, 0, 0), "where the keyboard will come")
    painter.end()
    return shot


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="docs/screenshots")
    out = Path(parser.parse_args().out)
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication(sys.argv[:1])
    app.setStyleSheet(app_stylesheet(touch_screen=True))
    keyboard = FakeTouchKeyboard(KEYBOARD)
    avoider = KeyboardAvoider(keyboard, app)
    with tempfile.TemporaryDirectory(prefix="kycdesk-touch-") as tmp:
        desk = KycDeskApp(resolve(Path(tmp) / "data"), confirm=lambda *_: True,
                          vault=Vault.ephemeral("touch-keyboard-screens"))
        if not desk.start():
            print(desk.startup_error)
            return 1
        window = desk.window
        window.setGeometry(SCREEN)
        window.show()
        while desk.reader is None:
            settle(20)
        desk.new_case()
        settle(500)
        editor = window.tabs.currentWidget()
        assert isinstance(editor, CaseEditor)
        page = editor.pages.currentWidget()
        assert isinstance(page, QScrollArea)
        low = [w for w in page.findChildren(QLineEdit) if w.isVisible() and takes_text(w)
               and QRect(w.mapToGlobal(QPoint(0, 0)), w.size()).intersects(KEYBOARD)]
        field = low[len(low) // 2]
        origin = window.mapToGlobal(QPoint(0, 0))
        window.activateWindow()
        settle()
        with_keyboard(window.grab(), origin, up=False).save(
            str(out / "touch-keyboard-before.png"))
        field.setFocus()
        settle(400)
        with_keyboard(window.grab(), origin, up=True).save(
            str(out / "touch-keyboard-field-above.png"))
        print(f"field now at {field.mapToGlobal(QPoint(0, 0)).y()}-"
              f"{field.mapToGlobal(QPoint(0, field.height())).y()}, keyboard from "
              f"{KEYBOARD.top()}; viewport margins {page.viewportMargins()}")
        avoider.stop()
        desk.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
