"""Crash-test child for the raw-bytes proof: writes demo cases into an encrypted store
through the real writer thread (keystrokes written ahead, debounced saves, photo imports),
printing what it is about to write, so the parent can SIGKILL it mid-save and look for
those values in the raw bytes the crash left:

    READY
    CASE <json: the answers about to be written>
    PHOTO <sha256 of a photo about to be imported>
    ACK <n>
    DONE

Usage: python -m tests.crash.save_child DATA_DIR VERIFIER_ID SEED CASES
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QGuiApplication

from kycdesk.core.records import Location
from kycdesk.core.results import Result
from kycdesk.demo import DEMO_FORM_ID, DEMO_FORM_VERSION, demo_form, render_photo
from kycdesk.paths import resolve
from kycdesk.persistence.commands import AddImage, AppendEdit, Command, CreateCase, SaveForm
from kycdesk.persistence.writer import WriterThread
from tests.vaults import make_vault


def emit(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class Driver(QObject):
    """Submits each case's writes as a burst (several in flight when the kill lands)."""

    def __init__(self, thread: WriterThread, rng: random.Random, cases: int,
                 scratch: Path) -> None:
        super().__init__()
        self.writer = thread.client
        self.rng = rng
        self.left = cases
        self.scratch = scratch
        self.inflight = 0
        self.counter = 0
        self.writer.opened.connect(lambda _report: self.next_case())

    def submit(self, command: Command[Any], then: Any = None) -> None:
        self.counter += 1
        self.inflight += 1
        self.writer.submit(command, functools.partial(self.done, self.counter, then))

    def done(self, number: int, then: Any, result: Result[Any]) -> None:
        self.inflight -= 1
        if not result.ok:
            emit(f"FAIL {number} {result.error}")
            QGuiApplication.exit(3)
            return
        emit(f"ACK {number}")
        if then is not None:
            then(result.value)
        if self.inflight == 0:
            self.next_case()

    def next_case(self) -> None:
        if self.left == 0:
            emit("DONE")
            QGuiApplication.quit()
            return
        self.left -= 1
        reference, form, (_city, lat, lon) = demo_form(self.rng)
        emit("CASE " + json.dumps(form, sort_keys=True))
        self.submit(CreateCase(reference_number=reference, form_id=DEMO_FORM_ID,
                               form_version=DEMO_FORM_VERSION),
                    functools.partial(self.fill, form, lat, lon))

    def fill(self, form: dict[str, Any], lat: float, lon: float, case_id: str) -> None:
        for key in ("applicant.first_name", "applicant.last_name",
                    "identity.document_number", "employment.annual_income"):
            self.submit(AppendEdit(case_id, key, form[key]))  # keystrokes, ahead
        self.submit(SaveForm(case_id, form, DEMO_FORM_VERSION,
                             applicant_name=f"{form['applicant.first_name']} "
                                            f"{form['applicant.last_name']}",
                             id_number=form["identity.document_number"]))
        for slot in ("id_front", "selfie"):
            source = self.scratch / f"{case_id}-{slot}.jpg"
            render_photo(source, label=slot, subtitle=form["applicant.last_name"],
                         seed=self.rng.randrange(2**31), size=(640, 480))
            emit(f"PHOTO {hashlib.sha256(source.read_bytes()).hexdigest()}")
            self.submit(AddImage(case_id, source, slot=slot,
                                 location=Location(lat, lon, 10.0, None)))


def main(argv: list[str]) -> int:
    data_dir, verifier_id, seed, cases = argv
    app = QGuiApplication(sys.argv[:1])
    vault = make_vault(verifier_id)
    with tempfile.TemporaryDirectory(prefix="kycdesk-save-child-") as scratch:
        thread = WriterThread(resolve(data_dir), vault=vault, retry_first_ms=50)
        driver = Driver(thread, random.Random(int(seed)), int(cases), Path(scratch))
        emit("READY")
        QTimer.singleShot(0, thread.start)
        code = app.exec()
        thread.stop()
        del driver
    return code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
