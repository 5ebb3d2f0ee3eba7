"""The touch keyboard's focus hook (kycdesk/touch/avoider.py) with real widgets offscreen
at 1366×768 and a fake keyboard covering the bottom of the screen: a text field that takes
the focus raises it and ends up in the visible part of its page, above the keyboard."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from PySide6.QtCore import QPoint, QRect
from PySide6.QtWidgets import (
    QApplication,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)
from pytestqt.qtbot import QtBot

from kycdesk.paths import DataPaths
from kycdesk.touch.avoider import (
    MARGIN_PX,
    KeyboardAvoider,
    install_keyboard_avoider,
    takes_text,
)
from kycdesk.touch.keyboard import NoTouchKeyboard, policy, system_keyboard
from kycdesk.touch.windows import to_logical
from kycdesk.views.case_editor import CaseEditor
from tests.desks import started_desk
from tests.touch_fakes import FakeTouchKeyboard

SCREEN = QRect(0, 0, 1366, 768)
KEYBOARD = QRect(0, 768 - 330, 1366, 330)  # Windows' docked touch keyboard, roughly


class Form(QWidget):
    """A window like the case editor's: a scroll area of 44 px fields, a button outside."""

    def __init__(self, fields: int = 30) -> None:
        super().__init__()
        self.setGeometry(SCREEN)
        outer = QVBoxLayout(self)
        self.area = QScrollArea(self)
        self.area.setWidgetResizable(True)
        page = QWidget()
        column = QVBoxLayout(page)
        self.fields: list[QLineEdit] = []
        for number in range(fields):
            field = QLineEdit(page)
            field.setPlaceholderText(f"field {number}")
            field.setMinimumHeight(44)
            column.addWidget(field)
            self.fields.append(field)
        self.notes = QPlainTextEdit(page)
        self.notes.setFixedHeight(88)
        column.addWidget(self.notes)
        self.area.setWidget(page)
        outer.addWidget(self.area)
        self.next = QPushButton("Next", self)
        outer.addWidget(self.next)


@pytest.fixture
def form(qtbot: QtBot) -> Form:
    made = Form()
    qtbot.addWidget(made)
    made.show()
    qtbot.waitExposed(made)
    made.activateWindow()
    qtbot.waitUntil(made.isActiveWindow)
    return made


@contextmanager
def avoider_with(keyboard: FakeTouchKeyboard) -> Iterator[KeyboardAvoider]:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    made = KeyboardAvoider(keyboard, app, poll_ms=10)
    try:
        yield made
    finally:
        made.stop()


@pytest.fixture
def keyboard() -> FakeTouchKeyboard:
    return FakeTouchKeyboard(KEYBOARD)


@pytest.fixture
def avoider(keyboard: FakeTouchKeyboard) -> Iterator[KeyboardAvoider]:
    with avoider_with(keyboard) as made:
        yield made


def global_rect(widget: QWidget) -> QRect:
    return QRect(widget.mapToGlobal(QPoint(0, 0)), widget.size())


def visible_above_keyboard(field: QWidget, scroll: QScrollArea) -> bool:
    """In its scroll area's viewport, and entirely above the keyboard's top edge."""
    viewport = global_rect(scroll.viewport())
    box = global_rect(field)
    return viewport.contains(box) and box.bottom() < KEYBOARD.top()


def focus(qtbot: QtBot, widget: QWidget) -> None:
    widget.setFocus()
    qtbot.waitUntil(widget.hasFocus)


def test_a_field_under_the_keyboard_is_raised_above_it(
        qtbot: QtBot, form: Form, keyboard: FakeTouchKeyboard,
        avoider: KeyboardAvoider) -> None:
    field = form.fields[12]  # on screen, but where the keyboard will be
    assert global_rect(field).intersects(KEYBOARD)
    focus(qtbot, field)
    assert keyboard.shown == [form.windowHandle()]
    qtbot.waitUntil(lambda: visible_above_keyboard(field, form.area))
    assert global_rect(field).bottom() + MARGIN_PX <= KEYBOARD.top()


def test_the_last_field_of_a_page_comes_up_too(
        qtbot: QtBot, form: Form, keyboard: FakeTouchKeyboard,
        avoider: KeyboardAvoider) -> None:
    """The page ends under the keyboard: the viewport ends at the keyboard's edge, so the
    scroll range grows and the multi-line field at the very end can still be reached."""
    bar = form.area.verticalScrollBar()
    bar.setValue(bar.maximum())
    assert global_rect(form.notes).intersects(KEYBOARD)
    focus(qtbot, form.notes)
    qtbot.waitUntil(lambda: visible_above_keyboard(form.notes, form.area))


def test_the_page_gets_its_space_back_when_the_keyboard_goes(
        qtbot: QtBot, form: Form, keyboard: FakeTouchKeyboard,
        avoider: KeyboardAvoider) -> None:
    full = global_rect(form.area.viewport()).height()
    focus(qtbot, form.fields[12])
    qtbot.waitUntil(lambda: global_rect(form.area.viewport()).bottom() < KEYBOARD.top())
    keyboard.up = False  # the verifier closes it
    qtbot.waitUntil(lambda: global_rect(form.area.viewport()).height() == full)
    assert form.area.viewportMargins().bottom() == 0


def test_a_keyboard_that_slides_in_late_is_still_followed(
        qtbot: QtBot, form: Form) -> None:
    late = FakeTouchKeyboard(KEYBOARD, slides_in_polls=5)
    with avoider_with(late):
        field = form.fields[13]
        focus(qtbot, field)
        assert global_rect(field).intersects(KEYBOARD)  # not up yet: nothing moved
        qtbot.waitUntil(lambda: visible_above_keyboard(field, form.area))


def test_leaving_the_text_fields_puts_the_keyboard_away(
        qtbot: QtBot, form: Form, keyboard: FakeTouchKeyboard,
        avoider: KeyboardAvoider) -> None:
    focus(qtbot, form.fields[3])
    assert keyboard.up
    focus(qtbot, form.next)
    assert keyboard.hidden == 1
    qtbot.waitUntil(lambda: form.area.viewportMargins().bottom() == 0)


def test_with_a_hardware_keyboard_nothing_is_raised_or_moved(
        qtbot: QtBot, form: Form) -> None:
    docked = FakeTouchKeyboard(KEYBOARD, wanted=False)
    with avoider_with(docked):
        bar = form.area.verticalScrollBar()
        before = bar.value()
        focus(qtbot, form.fields[12])
        assert docked.shown == []
        assert bar.value() == before
        assert form.area.viewportMargins().bottom() == 0


def test_a_read_only_field_raises_no_keyboard(
        qtbot: QtBot, form: Form, keyboard: FakeTouchKeyboard,
        avoider: KeyboardAvoider) -> None:
    form.fields[2].setReadOnly(True)
    focus(qtbot, form.fields[2])
    assert keyboard.shown == []


def test_off_windows_there_is_no_keyboard_and_no_hook(
        qapp: QApplication, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("kycdesk.touch.keyboard.sys.platform", "linux")
    assert isinstance(system_keyboard(), NoTouchKeyboard)
    assert install_keyboard_avoider(qapp) is None
    monkeypatch.setenv("KYCDESK_TOUCH_KEYBOARD", "sometimes")
    assert policy() == "auto"  # (a warning in the log names the variable)


def test_windows_rectangles_become_logical_ones(qapp: QApplication) -> None:
    screen = qapp.primaryScreen()
    assert screen is not None
    ratio = screen.devicePixelRatio()
    geometry = screen.geometry()
    physical = (0, round(438 * ratio), round(geometry.width() * ratio),
                round(768 * ratio))
    assert to_logical(*physical) == QRect(0, 438, geometry.width(), 330)
    assert to_logical(0, 0, 0, 0).isEmpty()  # hidden: Windows says an empty rectangle


def test_in_the_case_editor_the_field_typed_in_stays_above_the_keyboard(
        qtbot: QtBot, paths: DataPaths, keyboard: FakeTouchKeyboard,
        avoider: KeyboardAvoider) -> None:
    """The real editor of a new case at 1366×768: a field low on the first step's page
    (under where the keyboard comes) is scrolled into the part above it."""
    desk = started_desk(qtbot, paths)
    try:
        desk.window.setGeometry(SCREEN)
        with qtbot.waitSignal(desk.caseOpened, timeout=10_000):
            desk.new_case()
        editor = desk.window.tabs.currentWidget()
        assert isinstance(editor, CaseEditor)
        desk.window.show()
        qtbot.waitExposed(desk.window)
        desk.window.activateWindow()
        qtbot.waitUntil(desk.window.isActiveWindow)
        page = editor.pages.currentWidget()
        assert isinstance(page, QScrollArea)
        low = [widget for widget in page.findChildren(QLineEdit)
               if widget.isVisible() and takes_text(widget)
               and global_rect(widget).intersects(KEYBOARD)
               and global_rect(page.viewport()).contains(global_rect(widget))]
        assert low, "no text field of the first step where the keyboard comes"
        field = low[0]
        focus(qtbot, field)
        assert keyboard.shown
        qtbot.waitUntil(lambda: visible_above_keyboard(field, page))
    finally:
        desk.shutdown()
