"""The signature field: strokes to a value and back, its PNG's SHA-256, Undo and Clear,
required-ness, and a real pointer drag on the offscreen pad."""

from __future__ import annotations

import base64
import hashlib
from io import BytesIO
from typing import Any

import pytest
from PIL import Image
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QInputDevice, QPointingDevice, QTabletEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from kycdesk.core.form_schema import FieldDef, FieldKind
from kycdesk.core.signature import (
    Point,
    signature_problem,
    signature_value,
    smooth,
    strokes_of,
    svg_path,
)
from kycdesk.core.validation import validate_form, validate_value
from kycdesk.models.draft_model import DraftModel
from kycdesk.models.form_registry import FormRegistry
from kycdesk.views.field_widgets import SignatureEditor, editor_class
from tests.pointer import drag

KEY = "declarations.applicant_signature"
ZIGZAG: list[Point] = [(10.0 + 12 * i, 40.0 + (25 if i % 2 else 0), 16 * i,
                        round(0.4 + 0.05 * i, 2)) for i in range(10)]
TAIL: list[Point] = [(30.5, 100.0, 400, 0.5), (90.25, 104.0, 430, 0.6)]
PNG = b"\x89PNG\r\n\x1a\nnot really, but bytes all the same"


@pytest.fixture(scope="module")
def registry() -> FormRegistry:
    return FormRegistry.load()


def _field(required: bool = True) -> FieldDef:
    return FieldDef(key=KEY, label="Signature", kind=FieldKind.SIGNATURE, required=required)


def test_strokes_round_trip_through_the_value() -> None:
    value = signature_value([ZIGZAG, TAIL], 560, 180, PNG, "2026-12-06T05:00:00.000Z")
    assert strokes_of(value) == [ZIGZAG, TAIL]
    assert value["png_sha256"] == hashlib.sha256(PNG).hexdigest()
    assert base64.b64decode(value["png"]) == PNG
    assert all(isinstance(stroke, str) for stroke in value["strokes"])  # one value a stroke
    assert signature_problem(value) is None


def test_smoothing_keeps_the_ends_and_rounds_the_corners() -> None:
    smoothed = smooth(ZIGZAG)
    assert smoothed[0] == ZIGZAG[0] and smoothed[-1] == ZIGZAG[-1]
    assert len(smoothed) > len(ZIGZAG)
    ys = [p[1] for p in smoothed[1:-1]]
    assert min(ys) > 40 and max(ys) < 65  # no corner reaches the sampled extremes
    assert smooth(TAIL) == TAIL  # two points: a straight line stays one
    assert svg_path(TAIL) == "M30.5 100.0L90.2 104.0"


@pytest.mark.parametrize(("change", "message"), [
    ({"png_sha256": "0" * 64}, "does not match"),
    ({"png": "not base64!"}, "does not match"),
    ({"strokes": ["1,2,0,0.5 3,4,5,0.5"]}, "too short"),
    ({"strokes": ["1,2,zero,0.5"]}, "Sign in the box"),
    ({"strokes": ["nan,2,0,0.5"]}, "Sign in the box"),
    ({"strokes": [[[1, 2, 0, 0.5]]]}, "Sign in the box"),
    ({"signed_at": "yesterday"}, "time of signing"),
])
def test_a_broken_signature_is_refused_in_words(change: dict[str, Any], message: str
                                                ) -> None:
    value = {**signature_value([ZIGZAG], 560, 180, PNG, "2026-12-06T05:00:00.000Z"),
             **change}
    problem = validate_value(_field(), value)
    assert problem is not None and message in problem


def test_required_like_any_field(registry: FormRegistry) -> None:
    assert validate_value(_field(required=True), None) == "Required."
    assert validate_value(_field(required=False), None) is None
    form = registry.latest("individual_kyc")
    assert form.version == "3" and form.field(KEY).kind is FieldKind.SIGNATURE
    assert KEY in validate_form(form, {}, {})
    signed = signature_value([ZIGZAG], 560, 180, PNG, "2026-12-06T05:00:00.000Z")
    assert KEY not in validate_form(form, {KEY: signed}, {})
    assert editor_class(FieldKind.SIGNATURE) is SignatureEditor


def test_a_version_2_draft_opens_under_version_3_unchanged(registry: FormRegistry) -> None:
    values = {"applicant.first_name": "Olu", "address.postal_code": "BS1 4DJ"}
    migrated = registry.migrate("individual_kyc", values, "2", "3")
    assert migrated.values == values and migrated.kept_unknown == []
    with pytest.raises(KeyError):  # version 2 itself is unchanged: no signature in it
        registry.get("individual_kyc", "2").field(KEY)


@pytest.fixture
def signing(qtbot: QtBot, registry: FormRegistry) -> tuple[DraftModel, SignatureEditor]:
    form = registry.latest("individual_kyc")
    model = DraftModel(form)
    editor = SignatureEditor(model, form.field(KEY))
    qtbot.addWidget(editor)
    editor.resize(700, 320)
    editor.show()
    qtbot.waitExposed(editor)
    return model, editor


def test_a_pointer_drag_signs_and_undo_and_clear_take_it_back(
        qtbot: QtBot, signing: tuple[DraftModel, SignatureEditor]) -> None:
    model, editor = signing
    assert not editor.undo_button.isEnabled() and not editor.clear_button.isEnabled()
    drag(editor.pad, [(20 + 15 * i, 60 + (30 if i % 2 else 0)) for i in range(12)])
    first = model.value(KEY)
    assert len(strokes_of(first)) == 1 and len(strokes_of(first)[0]) == 12
    drag(editor.pad, [(40, 140), (120, 135), (220, 150)])
    value = model.value(KEY)
    assert len(strokes_of(value)) == 2
    assert model.error(KEY) is None
    png = base64.b64decode(value["png"])
    assert hashlib.sha256(png).hexdigest() == value["png_sha256"]
    picture = Image.open(BytesIO(png))
    assert picture.size == (editor.pad.width(), editor.pad.height())
    grey = picture.convert("L").histogram()  # how many pixels of each grey, 0..255
    assert sum(grey[:64]) > 0 and max(grey) == grey[255]  # ink, on white
    assert value["signed_at"].endswith("Z")
    assert editor.signed_label.text().startswith("Signed ")

    qtbot.mouseClick(editor.undo_button, Qt.MouseButton.LeftButton)
    undone = model.value(KEY)
    assert strokes_of(undone) == strokes_of(first)
    assert undone["png_sha256"] != value["png_sha256"]  # the picture follows the strokes
    qtbot.mouseClick(editor.clear_button, Qt.MouseButton.LeftButton)
    assert model.value(KEY) is None
    assert model.error(KEY) == "Required."
    assert editor.pad.strokes == [] and not editor.undo_button.isEnabled()


def test_read_only_shows_the_signature_and_takes_no_ink(
        qtbot: QtBot, registry: FormRegistry) -> None:
    form = registry.latest("individual_kyc")
    signed = signature_value([ZIGZAG], 560, 180, PNG, "2026-12-06T05:00:00.000Z")
    model = DraftModel(form, {KEY: signed}, read_only=True)
    editor = SignatureEditor(model, form.field(KEY))
    qtbot.addWidget(editor)
    editor.show()
    qtbot.waitExposed(editor)
    assert editor.pad.strokes == [ZIGZAG]
    drag(editor.pad, [(20, 20), (200, 90), (300, 40)])
    assert model.value(KEY) == signed
    assert not editor.clear_button.isEnabled() and not editor.undo_button.isEnabled()


def test_controls_are_touch_sized_and_fit_small_screens(
        signing: tuple[DraftModel, SignatureEditor]) -> None:
    _, editor = signing
    for button in (editor.undo_button, editor.clear_button):
        assert button.height() >= 44 and button.width() >= 44
    assert editor.pad.height() >= 44 * 3
    assert editor.sizeHint().height() < 768 // 2 and editor.minimumSizeHint().width() < 1280


def test_a_finger_and_a_pen_sign_too(
        qtbot: QtBot, signing: tuple[DraftModel, SignatureEditor]) -> None:
    """Touch events (one finger) and tablet events (pressure recorded): each input once."""
    model, editor = signing
    pad = editor.pad
    finger = QTest.createTouchDevice()
    QTest.touchEvent(pad, finger).press(0, QPoint(20, 50), pad).commit()
    for step in range(1, 10):
        QTest.touchEvent(pad, finger).move(0, QPoint(20 + 25 * step, 50 + 30 * (step % 2)),
                                           pad).commit()
    QTest.touchEvent(pad, finger).release(0, QPoint(260, 60), pad).commit()
    assert len(strokes_of(model.value(KEY))) == 1

    pen = QPointingDevice("pen", 7, QInputDevice.DeviceType.Stylus,
                          QPointingDevice.PointerType.Pen,
                          QInputDevice.Capability.Position | QInputDevice.Capability.Pressure,
                          1, 3)
    for kind, x, pressure in [(QEvent.Type.TabletPress, 40, 0.2),
                              (QEvent.Type.TabletMove, 120, 0.6),
                              (QEvent.Type.TabletMove, 200, 0.9),
                              (QEvent.Type.TabletRelease, 200, 0.0)]:
        position = QPointF(x, 140)
        event = QTabletEvent(kind, pen, position, pad.mapToGlobal(position), pressure,
                             0.0, 0.0, 0.0, 0.0, 0.0, Qt.KeyboardModifier.NoModifier,
                             Qt.MouseButton.LeftButton, Qt.MouseButton.LeftButton)
        QApplication.sendEvent(pad, event)
    strokes = strokes_of(model.value(KEY))
    assert len(strokes) == 2
    assert [round(point[3], 1) for point in strokes[1]] == [0.2, 0.6, 0.9]


def test_a_device_sent_pad_size_that_is_not_a_number_still_draws_on_the_review_page(
        ) -> None:
    """A hostile or broken device must not make a case unreviewable (a 500 on its page)."""
    from kycdesk_server.backoffice.case_view import signature_drawing

    value = {**signature_value([ZIGZAG], 560, 180, PNG, "2026-12-06T05:00:00.000Z"),
             "width": "abc", "height": 10**9}
    drawing = signature_drawing(value)
    assert drawing is not None and drawing.paths
    assert (drawing.width, drawing.height) == (0, 0)
