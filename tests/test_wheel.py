"""The mouse wheel scrolls the form and never changes an answer: real QWheelEvents over
every editor kind, after a pick, after typing and after a click elsewhere (pick Title "Ms",
roll on with the pointer still over it: it stayed "ms" and the page moved)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QComboBox, QScrollArea, QWidget
from pytestqt.qtbot import QtBot

from kycdesk.app import KycDeskApp
from kycdesk.core.form_schema import FieldDef, FieldKind
from kycdesk.paths import DataPaths
from kycdesk.views.case_editor import CaseEditor
from kycdesk.views.field_widgets import (
    ChoiceEditor,
    DateEditor,
    FieldEditor,
    MultiChoiceEditor,
    MultilineEditor,
    NumberEditor,
    SignatureEditor,
    TextEditor,
    YesNoEditor,
)
from tests.desks import started_desk
from tests.pointer import drag

KINDS = [k for k in FieldKind if k is not FieldKind.PHOTO]
# The offscreen platform cannot raise a popup or grab the keyboard for it; it says so.
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support")


@pytest.fixture
def desk(qtbot: QtBot, paths: DataPaths) -> Iterator[KycDeskApp]:
    app = started_desk(qtbot, paths)
    yield app
    app.shutdown()


@pytest.fixture
def editor(qtbot: QtBot, desk: KycDeskApp) -> CaseEditor:
    with qtbot.waitSignal(desk.caseOpened, timeout=10_000):
        desk.new_case()
    opened = desk.window.tabs.currentWidget()
    assert isinstance(opened, CaseEditor)
    desk.window.resize(1000, 520)  # short, so every step's page scrolls
    desk.window.show()
    qtbot.waitExposed(desk.window)
    return opened


def _field(editor: CaseEditor, kind: FieldKind) -> FieldDef:
    return next(f for f in editor.definition.fields() if f.kind is kind
                and f.visible_when is None)


def _show(qtbot: QtBot, editor: CaseEditor, key: str) -> FieldEditor:
    editor.go_to_step(editor.definition.step_index_of(key))
    widget = editor.editors[key]
    qtbot.waitUntil(widget.isVisible)
    _page(editor).ensureWidgetVisible(widget, 0, 60)
    return widget


def _page(editor: CaseEditor) -> QScrollArea:
    scroll = editor.pages.currentWidget()
    assert isinstance(scroll, QScrollArea)
    return scroll


def _roll(widget: QWidget) -> None:
    """One real wheel notch over the middle of `widget`, down if the page can go down."""
    centre = QPointF(widget.width() / 2, widget.height() / 2)
    event = QWheelEvent(centre, widget.mapToGlobal(centre), QPoint(0, 0), QPoint(0, -120),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                        Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def _rolls_the_page(editor: CaseEditor, target: QWidget) -> bool:
    bar = _page(editor).verticalScrollBar()
    assert bar.maximum() > 0, "the page must be longer than the window for this test"
    bar.setValue(0)
    _roll(target)
    return bar.value() > 0


def _targets(widget: FieldEditor) -> list[QWidget]:
    return [w for w in [widget.input, *widget.input.findChildren(QWidget)]
            if w.isVisible() and w.window() is widget.window()]


def _pick(qtbot: QtBot, widget: FieldEditor) -> None:
    """Answer the field the way a verifier does: a click, a pick or typing; the field keeps
    the focus afterwards, as it does on screen."""
    if isinstance(widget, ChoiceEditor):
        combo = widget.combo
        combo.setFocus()
        combo.showPopup()
        view = combo.view()
        qtbot.waitUntil(view.isVisible)
        rect = view.visualRect(combo.model().index(2, 0))
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        qtbot.waitUntil(lambda: not view.isVisible())
    elif isinstance(widget, YesNoEditor):
        qtbot.mouseClick(widget.yes, Qt.MouseButton.LeftButton)
        widget.yes.setFocus()
    elif isinstance(widget, MultiChoiceEditor):
        box = widget.boxes[0]  # a check box takes clicks on its tick and words only
        qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))
        widget.boxes[0].setFocus()
    elif isinstance(widget, DateEditor):
        qtbot.mouseClick(widget.line, Qt.MouseButton.LeftButton)
        qtbot.keyClicks(widget.line, "14/03/1988")
    elif isinstance(widget, NumberEditor):
        qtbot.mouseClick(widget.line, Qt.MouseButton.LeftButton)
        qtbot.keyClicks(widget.line, "12")
    elif isinstance(widget, MultilineEditor):
        qtbot.mouseClick(widget.text.viewport(), Qt.MouseButton.LeftButton)
        qtbot.keyClicks(widget.text, "Typed")
    elif isinstance(widget, SignatureEditor):
        drag(widget.pad, [(20 + 20 * step, 40 + 40 * (step % 2)) for step in range(12)])
        widget.pad.setFocus()
    elif isinstance(widget, TextEditor):
        qtbot.mouseClick(widget.line, Qt.MouseButton.LeftButton)
        qtbot.keyClicks(widget.line, "A1")
    else:
        raise AssertionError(type(widget))


@pytest.mark.parametrize("then", ["kept-focus", "clicked-elsewhere"])
@pytest.mark.parametrize("kind", KINDS, ids=[k.value for k in KINDS])
def test_after_an_answer_the_wheel_scrolls_the_form_and_changes_nothing(
        qtbot: QtBot, editor: CaseEditor, kind: FieldKind, then: str) -> None:
    """Answered by a pick, a click or typing; then either still focused, or released by a
    click on the page's blank margin: every wheel over it moves the page, not the answer."""
    field = _field(editor, kind)
    widget = _show(qtbot, editor, field.key)
    _pick(qtbot, widget)
    answered: Any = editor.model.value(field.key)
    assert answered is not None
    if then == "clicked-elsewhere":
        _click_margin(qtbot, editor, widget)
    for target in _targets(widget):
        assert _rolls_the_page(editor, target), target
    assert editor.model.value(field.key) == answered


def _click_margin(qtbot: QtBot, editor: CaseEditor, widget: FieldEditor) -> None:
    page = _page(editor).widget()
    assert page is not None
    qtbot.mouseClick(page, Qt.MouseButton.LeftButton,
                     pos=QPoint(4, widget.geometry().center().y()))


def test_picking_ms_then_rolling_on_keeps_ms(qtbot: QtBot, editor: CaseEditor) -> None:
    """The report's case exactly: pick "Ms" with the mouse, roll on over the drop-down."""
    widget = _show(qtbot, editor, "applicant.title")
    combo = widget.input
    assert isinstance(combo, QComboBox)
    combo.setFocus()  # as a click on it does
    combo.showPopup()
    view = combo.view()
    qtbot.waitUntil(view.isVisible)
    rect = view.visualRect(combo.model().index(combo.findData("ms"), 0))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert editor.model.value("applicant.title") == "ms"
    qtbot.waitUntil(combo.hasFocus)  # the list closed, the drop-down keeps the focus
    for _ in range(3):
        _roll(combo)
    assert editor.model.value("applicant.title") == "ms"
    assert combo.currentText() == "Ms"
    assert _page(editor).verticalScrollBar().value() > 0


def test_an_open_drop_down_list_takes_the_wheel(qtbot: QtBot, editor: CaseEditor) -> None:
    """Opened on purpose, the list scrolls itself and the page stays put."""
    widget = _show(qtbot, editor, _field(editor, FieldKind.SINGLE_CHOICE).key)
    assert isinstance(widget, ChoiceEditor)
    bar = _page(editor).verticalScrollBar()
    bar.setValue(0)
    widget.combo.showPopup()
    qtbot.waitUntil(widget.combo.view().isVisible)
    _roll(widget.combo.view().viewport())
    assert bar.value() == 0
    widget.combo.hidePopup()


def test_a_click_on_the_blank_margin_releases_the_field(qtbot: QtBot,
                                                        editor: CaseEditor) -> None:
    widget = _show(qtbot, editor, "applicant.title")
    _pick(qtbot, widget)
    qtbot.waitUntil(widget.input.hasFocus)
    _click_margin(qtbot, editor, widget)
    assert not widget.input.hasFocus()
    assert _page(editor).widget() is QApplication.focusWidget()


def test_the_wheel_over_a_photo_slot_scrolls_the_form(qtbot: QtBot,
                                                      editor: CaseEditor) -> None:
    slot = next(iter(editor.photos.slots.values()))
    key = next(f.key for f in editor.definition.fields() if f.kind is FieldKind.PHOTO)
    editor.go_to_step(editor.definition.step_index_of(key))
    qtbot.waitUntil(slot.isVisible)
    slot.view.setFocus()
    assert _rolls_the_page(editor, slot.view.viewport())


def test_the_wheel_over_the_case_list_filter_changes_no_view(qtbot: QtBot,
                                                             desk: KycDeskApp) -> None:
    desk.window.show()
    qtbot.waitExposed(desk.window)
    combo = desk.window.findChild(QComboBox)
    assert combo is not None
    combo.setFocus()
    before = combo.currentIndex()
    _roll(combo)
    assert combo.currentIndex() == before
