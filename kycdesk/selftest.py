"""`kycdesk --self-test`: proves an installation works, frozen or from source, without a
display: SQL driver, image plugin, form definitions, a real store in a temp folder
(case, form save, write-ahead replay, photo import through the JPEG plugin, recovery),
the offline place names' data, the sync stack imports, ICU's locale data (collation,
Turkish upper-casing), and the camera's multimedia plugin (cameras listed; none found is
not a failure). One line per check; exit
code 1 if any check fails."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from functools import cache
from pathlib import Path

from kycdesk.about import about_lines
from kycdesk.paths import resolve, system_scratch_dir
from kycdesk.persistence.commands import AddImage, AppendEdit, CreateCase, SaveForm
from kycdesk.resources import resource_path
from kycdesk.security.vault import Vault

Check = Callable[[], str]


def _sql_driver() -> str:
    from PySide6.QtSql import QSqlDatabase

    drivers = QSqlDatabase.drivers()
    if "QSQLITE" not in drivers:
        raise RuntimeError(f"QSQLITE missing; available: {drivers}")
    return "QSQLITE available"


def _image_plugin() -> str:
    from PySide6.QtGui import QImageReader

    formats = {bytes(f.data()).decode() for f in QImageReader.supportedImageFormats()}
    if "jpeg" not in formats:
        raise RuntimeError(f"no JPEG plugin; formats: {sorted(formats)}")
    return "JPEG and PNG readable"


def _forms() -> str:
    from kycdesk.models.form_registry import FormRegistry

    registry = FormRegistry.load()
    latest = registry.latest()
    return f"{len(registry.form_ids())} form(s); {latest.form_id} v{latest.version} has " \
           f"{len(latest.fields())} fields"


@cache
def _throwaway_vault() -> Vault:
    """The self-test's store is a throwaway in the system temp folder holding made-up
    data: a random key for this run, no verifier, no PIN."""
    return Vault.ephemeral("self-test")


def _store_round_trip(folder: Path) -> str:
    from kycdesk.persistence.store import LocalStore

    paths = resolve(folder)
    with LocalStore(paths, vault=_throwaway_vault()) as store:
        case_id = store.run(CreateCase(reference_number="SELF-TEST"))
        store.run(AppendEdit(case_id, "applicant.first_name", "Self"))
        store.run(SaveForm(case_id, {"applicant.first_name": "Self"}))
        store.run(AppendEdit(case_id, "applicant.last_name", "Test"))
        form = store.load_case(case_id).form
    if form != {"applicant.first_name": "Self", "applicant.last_name": "Test"}:
        raise RuntimeError(f"form read back wrong: {form}")
    return "case created, form saved, write-ahead replayed"


def _photo_import(folder: Path) -> str:
    from kycdesk.persistence.store import LocalStore

    sample = resource_path("sample", "sample.jpg")
    paths = resolve(folder)
    with LocalStore(paths, vault=_throwaway_vault()) as store:
        case_id = store.list_cases(limit=1)[0].id
        image = store.run(AddImage(case_id, sample, slot="id_front"))
        if not store.paths.absolute(image.file_path).is_file():
            raise RuntimeError("photo file missing after import")
    return f"sample photo imported ({image.width}x{image.height}, sha256 " \
           f"{(image.sha256 or '')[:12]}…)"


def _recovery(folder: Path) -> str:
    from kycdesk.persistence.store import LocalStore

    paths = resolve(folder)
    case_dir = next(paths.cases_dir.iterdir())
    (case_dir / ".img_00000000-0000-4000-8000-000000000000.tmp").write_bytes(b"x")
    with LocalStore(paths, vault=_throwaway_vault()) as store:
        report = store.check()
    if report.has_problems or report.removed_temp_files == []:
        raise RuntimeError("; ".join(report.lines()))
    return "integrity ok, leftover temp file removed"


def _place_names() -> str:
    from kycdesk.persistence.places import place_finder

    finder = place_finder()
    if finder is None:
        raise RuntimeError("the places file (resources/geo/places.npz) cannot be read")
    named = finder.describe(-1.2864, 36.8172)
    if not named.address.startswith("near Nairobi"):
        raise RuntimeError(f"Nairobi's centre named {named.address!r}")
    return f"{len(finder)} places; Nairobi's centre is {named.address!r}"


def _sync_stack() -> str:
    import httpx

    from kycdesk.core.protocol import Submission

    Submission.model_json_schema()
    return f"httpx {httpx.__version__}, protocol models ok"


def _document_reader() -> str:
    """numpy loads (the retake checks need it: a stripped OpenBLAS once broke it in the
    bundle), and the ID photo reader's parts, if installed: Pillow with FreeType (the
    OCR-B templates are rendered from the bundled font) and zxing-cpp's native library."""
    import numpy

    numbers = f"numpy {numpy.__version__}"
    try:
        from PIL import Image

        from kycdesk.documents import document_reader, mrz_reader
    except ImportError as exc:
        return f"{numbers}; reader not installed (the documents extra; {exc}): ID photos " \
               "are not read"
    import zxingcpp

    glyphs = mrz_reader.glyph_templates()
    found = zxingcpp.read_barcodes(Image.new("L", (64, 64), 255))
    if found:
        raise RuntimeError("a blank picture gave a barcode")
    return f"{numbers}; {document_reader.__name__}: {glyphs} OCR-B glyph templates, " \
           "zxing-cpp loaded"


def _touch_keyboard() -> str:
    """On Windows the input pane's COM interfaces answer from the bundle (ctypes, ole32);
    elsewhere there is none to use."""
    from kycdesk.touch.keyboard import NoTouchKeyboard, system_keyboard

    keyboard = system_keyboard()
    if isinstance(keyboard, NoTouchKeyboard):
        return "none used on this platform (Windows only)"
    shown = "up" if not keyboard.occluded().isEmpty() else "down"
    return f"{type(keyboard).__name__}: wanted now {keyboard.wanted()}, keyboard {shown}"


def _locale_text() -> str:
    """ICU answers (the Linux bundle ships ICU's data trimmed: tools/bundle_trim.py):
    locale-aware upper-casing and collation. Without ICU's data Qt falls back to
    locale-blind tables and Turkish "i" upper-cases to "I"."""
    import sys

    from PySide6.QtCore import QCollator, QLocale

    turkish = QLocale("tr_TR").toUpper("i")
    order = sorted(["b", "Å", "a", "B"], key=QCollator(QLocale("en_GB")).sortKey)
    if order != ["a", "Å", "b", "B"]:
        raise RuntimeError(f"collation gives {order}")
    if turkish != "İ" and sys.platform.startswith("linux"):
        raise RuntimeError("ICU's locale data did not load (Turkish i upper-cases to "
                           f"{turkish!r})")
    return f"collation and locale-aware case mapping (Turkish i → {turkish})"


def _camera() -> str:
    """QtMultimedia loads with its backend plugin (FFmpeg: the formats it decodes are
    listed only when the plugin loaded) and the cameras are listed; none is not a
    failure (a desktop without one imports photos from files)."""
    try:
        from PySide6.QtMultimedia import QMediaFormat

        from kycdesk.views.camera import list_cameras
    except ImportError as exc:
        return f"camera support not installed ({exc}): photos are added from files"
    decoded = QMediaFormat().supportedFileFormats(QMediaFormat.ConversionMode.Decode)
    if not decoded:
        raise RuntimeError("QtMultimedia loaded but its backend plugin did not (no media "
                           "formats): the camera cannot work")
    cameras = list_cameras()
    found = ", ".join(f"{camera.name} ({camera.facing or 'facing not known'})"
                      for camera in cameras) or "none found on this device (photos are " \
                                                  "added from files)"
    return f"multimedia plugin loaded ({len(decoded)} media formats); cameras: {found}"


def run_self_test(print_line: Callable[[str], None] = print) -> int:
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance() or QGuiApplication(["kycdesk-self-test"])
    for line in about_lines(resolve(None)):
        print_line(f"info  {line}")
    print_line(f"info  platform plugin: {QGuiApplication.platformName()}")
    failures = 0
    with system_scratch_dir("kycdesk-selftest-") as tmp:
        folder = tmp / "data"
        checks: list[tuple[str, Check]] = [
            ("SQL driver", _sql_driver),
            ("image plugin", _image_plugin),
            ("form definitions", _forms),
            ("store", lambda: _store_round_trip(folder)),
            ("photo import", lambda: _photo_import(folder)),
            ("recovery", lambda: _recovery(folder)),
            ("place names", _place_names),
            ("sync stack", _sync_stack),
            ("numpy and ID document reader", _document_reader),
            ("touch keyboard", _touch_keyboard),
            ("locale text", _locale_text),
            ("camera", _camera),
        ]
        for name, check in checks:
            try:
                detail = check()
            except Exception as exc:
                failures += 1
                print_line(f"FAIL  {name}: {exc}")
                print_line("      " + traceback.format_exc().strip().splitlines()[-1])
            else:
                print_line(f"ok    {name}: {detail}")
    print_line("self-test passed" if failures == 0 else f"self-test FAILED ({failures})")
    del app
    return 0 if failures == 0 else 1
