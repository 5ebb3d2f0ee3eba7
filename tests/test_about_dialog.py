"""Help → About: a real dialog a finger and a keyboard can use — the versions, and the
licences (every component, Qt's LGPL offer) read off the GUI thread."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication, QLineEdit, QToolButton
from pytestqt.qtbot import QtBot

from kycdesk.app import KycDeskApp
from kycdesk.paths import DataPaths
from kycdesk.views.about_dialog import LOADING, AboutDialog
from kycdesk.views.style import TOUCH
from tests.fakes import always_yes
from tests.vaults import make_vault


@pytest.fixture
def desk(qtbot: QtBot, paths: DataPaths) -> Iterator[KycDeskApp]:
    app = KycDeskApp(paths, confirm=always_yes, vault=make_vault())
    qtbot.addWidget(app.window)
    assert app.start(), app.startup_error
    qtbot.waitUntil(lambda: app.reader is not None, timeout=10_000)
    app.window.show()
    qtbot.waitExposed(app.window)
    yield app
    app.shutdown()


def _opened(qtbot: QtBot, desk: KycDeskApp) -> AboutDialog:
    dialog = desk.window.findChild(AboutDialog, "about-dialog")
    assert dialog is not None
    qtbot.waitUntil(dialog.isVisible)
    # Both background reads have landed (versions, then the licences) before the test goes on.
    qtbot.waitUntil(lambda: dialog.details.text() != LOADING, timeout=10_000)
    qtbot.waitUntil(dialog.licences_loaded, timeout=30_000)
    return dialog


def test_help_menu_opens_the_licences_with_every_component(qtbot: QtBot,
                                                            desk: KycDeskApp) -> None:
    button = desk.window.findChild(QToolButton, "help-menu")
    assert button is not None and button.isVisible() and button.height() >= TOUCH - 8
    menu = button.menu()
    assert [action.text() for action in menu.actions()] == ["About kycdesk", "Licences"]
    menu.actions()[1].trigger()  # Help → Licences
    dialog = _opened(qtbot, desk)
    assert dialog.tabs.currentIndex() == AboutDialog.LICENCES_TAB
    text = dialog.text.toPlainText()
    for component in ("PySide6", "shiboken6", "numpy", "cryptography", "pydantic", "Python"):
        assert component in text
    assert "Written offer" in text and "GNU LESSER GENERAL PUBLIC LICENSE" in text
    assert "Apache License" in text  # kycdesk's own


def test_keyboard_only_find_a_component_and_close(qtbot: QtBot, desk: KycDeskApp) -> None:
    qtbot.keyClick(desk.window.windowHandle(), Qt.Key.Key_F1)  # Help → About
    dialog = _opened(qtbot, desk)
    assert dialog.tabs.currentIndex() == AboutDialog.ABOUT_TAB
    qtbot.keyClick(dialog, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert dialog.tabs.currentIndex() == AboutDialog.LICENCES_TAB
    qtbot.waitUntil(lambda: isinstance(QApplication.focusWidget(), QLineEdit))
    assert QApplication.focusWidget() is dialog.find_field
    qtbot.keyClicks(dialog.find_field, "zxing-cpp")
    qtbot.keyClick(dialog.find_field, Qt.Key.Key_Return)
    cursor = dialog.text.textCursor()
    assert cursor.selectedText() == "zxing-cpp"
    assert dialog.isVisible()  # Enter finds; it does not close the dialog
    qtbot.keyClicks(dialog.find_field, " no such words anywhere")
    qtbot.keyClick(dialog.find_field, Qt.Key.Key_Return)
    assert dialog.find_state.text() == "Not found"
    qtbot.keyClick(dialog.find_field, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not dialog.isVisible())


def test_touch_targets_and_finger_scrolling(qtbot: QtBot, desk: KycDeskApp) -> None:
    from PySide6.QtWidgets import QPushButton, QScroller

    desk.show_licences()
    dialog = _opened(qtbot, desk)
    for name in ("about-close", "licence-find-next"):
        button = dialog.findChild(QPushButton, name)
        assert button is not None and button.height() >= TOUCH, name
    assert dialog.find_field.height() >= TOUCH
    assert QScroller.hasScroller(dialog.text.viewport())
    bar = dialog.text.verticalScrollBar()
    assert bar.maximum() > 0  # a long text, scrollable
    qtbot.mouseClick(dialog.findChild(QPushButton, "about-close"), Qt.MouseButton.LeftButton,
                     pos=QPoint(10, 10))
    qtbot.waitUntil(lambda: not dialog.isVisible())
    desk.show_about()  # the same dialog again, already filled
    assert desk.window.findChild(AboutDialog, "about-dialog") is dialog
    assert dialog.isVisible() and dialog.licences_loaded()
    dialog.close()


def test_a_bundle_without_its_notices_says_so_in_the_dialog(
        qtbot: QtBot, desk: KycDeskApp, monkeypatch: pytest.MonkeyPatch,
        tmp_path: object) -> None:
    """A frozen kycdesk whose licences/ folder went missing (a half-copied install): the
    Licences page says so and what to do, instead of staying empty or crashing."""
    import sys
    from pathlib import Path

    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(Path(str(tmp_path)) / "kycdesk"))
    desk.show_licences()
    dialog = _opened(qtbot, desk)
    text = dialog.text.toPlainText()
    assert "licence notices are missing" in text and "reinstall kycdesk" in text
    dialog.close()
