"""Crash-test child for the real editor: types into the first step's fields with QTest
key clicks (the real widget -> draft model -> autosave -> writer path) and prints:

    READY <case_id>
    INTENT <n> <json {field, text}>   the text the field will hold after this key
    ACK <n>                           the writer has nothing pending any more
    DONE

Usage: python -m tests.crash.editor_child DATA_DIR SEED KEYS
"""

from __future__ import annotations

import json
import os
import random
import sys

from tests.vaults import make_vault

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLineEdit

from kycdesk.app import KycDeskApp
from kycdesk.paths import resolve
from kycdesk.views.case_editor import CaseEditor
from kycdesk.views.field_widgets import TextEditor

FIELDS = ["applicant.first_name", "applicant.middle_names", "applicant.last_name",
          "applicant.place_of_birth", "applicant.email"]
ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ .-'"


def emit(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class Typist(QObject):
    def __init__(self, desk: KycDeskApp, rng: random.Random, keys: int) -> None:
        super().__init__()
        self.desk = desk
        self.rng = rng
        self.keys = keys
        self.n = 0
        self.editor: CaseEditor | None = None
        self.poll = QTimer(self)
        self.poll.setInterval(1)
        self.poll.timeout.connect(self._check_idle)
        desk.caseOpened.connect(self._opened)

    def _opened(self, case_id: str) -> None:
        editor = self.desk.window.editor_for(case_id)
        assert editor is not None
        self.editor = editor
        emit(f"READY {case_id}")
        QTimer.singleShot(0, self._type_one)

    def _line(self, key: str) -> QLineEdit:
        assert self.editor is not None
        widget = self.editor.editors[key]
        assert isinstance(widget, TextEditor)
        return widget.line

    def _type_one(self) -> None:
        if self.n >= self.keys:
            emit("DONE")
            QApplication.quit()
            return
        self.n += 1
        key = self.rng.choice(FIELDS)
        line = self._line(key)
        line.setFocus()
        line.end(False)
        if line.text() and self.rng.random() < 0.15:
            text = line.text()[:-1]
            emit(f"INTENT {self.n} {json.dumps({'field': key, 'text': text})}")
            QTest.keyClick(line, Qt.Key.Key_Backspace)
        else:
            char = self.rng.choice(ALPHABET)
            text = line.text() + char
            emit(f"INTENT {self.n} {json.dumps({'field': key, 'text': text})}")
            QTest.keyClicks(line, char)
        self.poll.start()

    def _check_idle(self) -> None:
        client = self.desk.writer_thread.client if self.desk.writer_thread else None
        if client is not None and client.pending_count() == 0:
            self.poll.stop()
            emit(f"ACK {self.n}")
            QTimer.singleShot(0, self._type_one)


def main(argv: list[str]) -> int:
    data_dir, seed, keys = argv
    app = QApplication(sys.argv[:1])
    desk = KycDeskApp(resolve(data_dir), vault=make_vault())  # the real 2 s debounce
    typist = Typist(desk, random.Random(int(seed)), int(keys))
    assert desk.start(), desk.startup_error
    desk.writer_thread.client.opened.connect(  # type: ignore[union-attr]
        lambda _r: QTimer.singleShot(0, desk.new_case))
    code = app.exec()
    desk.shutdown()
    del typist
    return code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
