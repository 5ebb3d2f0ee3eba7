"""Renders the main screens to docs/screenshots/*.png from fresh demo data.

    .venv/bin/python tools/screenshots.py [--out docs/screenshots]

Runs offscreen (no display needed): creates demo cases with photos in a temp data dir,
opens the real app and grabs the window.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from pathlib import Path

from kycdesk.security.vault import Vault

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtWidgets import QApplication

from kycdesk.app import KycDeskApp
from kycdesk.core.states import CaseStatus
from kycdesk.demo import generate
from kycdesk.paths import resolve
from kycdesk.persistence.store import LocalStore
from kycdesk.views.case_editor import CaseEditor
from kycdesk.views.field_widgets import DateEditor, SignatureEditor, TextEditor
from kycdesk.views.style import app_stylesheet
from tests.pointer import drag
from tools.qt_settle import settle

# A 1366x768 tablet minus a 40 px taskbar: the smallest screen verifiers use.
WINDOW = (1366, 728)



def sign_with_mouse(editor: SignatureEditor) -> None:
    """Real mouse strokes on the pad: a looped initial, a wave, an underline."""
    pad = editor.pad
    h = pad.height()
    strokes = [
        [(40 + int(30 * math.cos(a / 6)) + a * 2, int(h * 0.45 - 40 * math.sin(a / 6)))
         for a in range(0, 60, 2)],
        [(170 + 6 * i, int(h * 0.55 - 22 * math.sin(i / 2.2))) for i in range(40)],
        [(60 + 12 * i, int(h * 0.8) + (i % 3)) for i in range(30)],
    ]
    for stroke in strokes:
        drag(pad, stroke, 4)


def retake_warning(editor: CaseEditor, tmp: Path) -> None:
    """A blurred ID photo replaces the demo's front: the slot suggests a retake."""
    from PySide6.QtGui import QImage

    from tests.quality_images import blurred, id_photo

    session = editor.session
    for image in list(session.photos["id_front"].images):
        session.delete_photo(image.id)
    while session.photos["id_front"].rowCount():
        settle(20)
    grey = blurred(id_photo(1600, 1200, seed=4), 5.0)
    photo = tmp / "blurred-id.jpg"
    QImage(grey.data, 1600, 1200, 1600, QImage.Format.Format_Grayscale8).copy().save(
        str(photo), "JPEG", 90)  # type: ignore[call-overload]
    editor.go_to_step(editor.definition.step_index_of("photos.id_front"))
    flagged: list[int] = []
    session.photoQuality.connect(lambda *_: flagged.append(1))
    editor.photos.import_files("id_front", [photo])
    while not flagged:
        settle(20)
    settle(400)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="docs/screenshots")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication(sys.argv[:1])
    app.setStyleSheet(app_stylesheet(touch_screen=True))
    with tempfile.TemporaryDirectory(prefix="kycdesk-shots-") as tmp:
        paths = resolve(Path(tmp) / "data")
        vault = Vault.ephemeral("screenshots")  # a scratch store: its key dies with us
        first_run = KycDeskApp(paths, debounce_ms=100, confirm=lambda *_: True,
                               vault=vault)
        if not first_run.start():
            print(first_run.startup_error)
            return 1
        first_run.window.resize(*WINDOW)
        first_run.window.show()
        while first_run.reader is None:
            settle(20)
        settle()
        first_run.window.grab().save(str(out / "first-run.png"))
        first_run.shutdown()
        settle()
        with LocalStore(paths, vault=vault) as store:
            generate(store, cases=24, images_per_case=5, status="mixed", seed=11,
                     image_size=(1200, 900))
            cases = store.list_cases(limit=50)
        desk = KycDeskApp(paths, debounce_ms=100, confirm=lambda *_: True,
                          vault=vault)
        if not desk.start():
            print(desk.startup_error)
            return 1
        window = desk.window
        window.resize(*WINDOW)
        window.show()
        while desk.reader is None:
            settle(20)
        settle()
        window.grab().save(str(out / "case-list.png"))

        draft = next(c for c in cases if c.status == CaseStatus.DRAFT.value)
        editor = desk.open_case(draft.id)
        assert isinstance(editor, CaseEditor)
        email = editor.editors["applicant.email"]
        assert isinstance(email, TextEditor)
        email.line.setText("amara.okafor@example")
        email.commit("amara.okafor@example")  # a typo: the inline error shows
        settle()
        editor.reveal("applicant.email")
        settle()
        window.grab().save(str(out / "editor-validation-error.png"))

        editor.go_to_step(6)
        settle(300)
        desk.loader.wait_idle()
        settle(300)
        window.grab().save(str(out / "photo-gallery.png"))

        editor.go_to_step(0)
        birth = editor.editors["applicant.date_of_birth"]
        assert isinstance(birth, DateEditor)
        birth.line.setText("31.02.1988")  # typed as on the ID card, but no such day:
        birth._typed(birth.line.text())   # kept as typed, flagged, nothing lost
        settle()
        editor.reveal("applicant.date_of_birth")
        settle()
        window.grab().save(str(out / "editor-date-field.png"))
        calendar = birth.open_calendar()
        settle(300)
        calendar.window().grab().save(str(out / "date-calendar.png"))
        calendar.window().close()
        settle()

        editor.go_to_step(editor.definition.step_index_of("declarations.applicant_signature"))
        settle()
        signature = editor.editors["declarations.applicant_signature"]
        assert isinstance(signature, SignatureEditor)
        editor.reveal("declarations.applicant_signature")
        settle()
        sign_with_mouse(signature)
        settle()
        editor.reveal("declarations.applicant_signature")
        settle()
        window.grab().save(str(out / "signature-pad.png"))

        retake_warning(editor, Path(tmp))
        window.grab().save(str(out / "retake-suggestion.png"))

        failed = next(c for c in cases if c.status == CaseStatus.FAILED.value)
        desk.open_case(failed.id)
        settle()
        window.grab().save(str(out / "needs-action.png"))

        synced = next(c for c in cases if c.status == CaseStatus.SYNCED.value)
        desk.open_case(synced.id)
        settle()
        window.grab().save(str(out / "synced-read-only.png"))
        desk.shutdown()
    for png in sorted(out.glob("*.png")):
        print(png)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
