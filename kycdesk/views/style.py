"""Sizes and colours shared by the views (touch first: every target >= 44 px)."""

from __future__ import annotations

from kycdesk.core.states import AMBER, STATUS_COLOURS, CaseStatus, badge

TOUCH = 44
ERROR_COLOUR = STATUS_COLOURS[CaseStatus.FAILED]
ACCENT = STATUS_COLOURS[CaseStatus.READY]
_BASE_STYLESHEET = f"""
QPushButton, QToolButton, QComboBox, QLineEdit {{ min-height: {TOUCH - 8}px; }}
QPushButton {{ padding: 4px 14px; }}
QLabel[role="error"] {{ color: {ERROR_COLOUR}; }}
QLineEdit[readOnly="true"], QPlainTextEdit[readOnly="true"] {{
    background: #eef0f1; color: #30363a; }}
QLabel[role="help"] {{ color: #5b6770; }}
QLabel[role="banner"] {{ background: #fff4ce; padding: 8px; border-radius: 4px; }}
QLabel[role="banner-bad"] {{ background: #fde7e5; color: {ERROR_COLOUR}; padding: 8px;
    border-radius: 4px; }}
QLabel[role="save-state"] {{ color: #5b6770; }}
QLabel[role="save-state-bad"] {{ color: {ERROR_COLOUR}; font-weight: bold; }}
QCalendarWidget QAbstractItemView {{ min-height: {TOUCH * 6}px; }}
QListWidget#step-list::item {{ min-height: {TOUCH}px; padding-left: 8px; }}
QComboBox QAbstractItemView::item {{ min-height: {TOUCH}px; }}
QCheckBox {{ min-height: {TOUCH}px; spacing: 10px; }}
QCheckBox::indicator {{ width: 26px; height: 26px; }}
QScrollBar::handle:vertical {{ min-height: {TOUCH}px; }}
QScrollBar::handle:horizontal {{ min-width: {TOUCH}px; }}
QTabBar::tab {{ min-height: {TOUCH}px; padding: 0 12px; }}
QPushButton[role="answer"]:checked {{ background: {ACCENT}; color: white;
    font-weight: bold; border: 2px solid {ACCENT}; border-radius: 4px; }}
QPushButton[role="answer"]:focus {{ border: 2px solid #f0a800; }}
QLabel#empty-state {{ color: #30363a; font-size: 15px; padding: 24px; }}
QLabel[role="comment"] {{ background: #e8f0fe; color: #1b2a41; border-left: 4px solid #1a56b8;
    padding: 6px 8px; }}
QLabel[role="prefilled"] {{ background: #e6f4ea; color: #1d5e3a; padding: 2px 8px;
    border-radius: 8px; }}
QLabel[role="decision"] {{ background: #e6f4ea; color: #1d5e3a; padding: 8px;
    border-radius: 4px; font-weight: bold; }}
QLabel[role="decision-bad"] {{ background: #fde7e5; color: {ERROR_COLOUR}; padding: 8px;
    border-radius: 4px; font-weight: bold; }}
QFrame[role="conflict"] {{ background: #fff4ce; border: 1px solid {AMBER}; border-radius: 6px; }}
QFrame[role="conflict"] QLabel {{ border: none; background: transparent; }}
QPushButton[role="choice"] {{ text-align: left; padding: 6px 12px; background: white;
    color: #1b2a41; border: 1px solid #8a949b; border-radius: 4px; }}
QPushButton[role="choice"]:focus {{ border: 3px solid #f0a800; }}
QPushButton[role="choice"]:disabled {{ color: #5b6770; background: #eef0f1; }}
QListWidget#review-comments::item {{ min-height: {TOUCH}px; padding: 2px 6px; }}
QPushButton[role="inbox"]:checked {{ background: {ACCENT}; color: white; }}
QPushButton[role="verifier"] {{ min-height: {TOUCH * 2}px; font-size: 18px;
    font-weight: bold; background: white; color: #1b2a41; border: 1px solid #8a949b;
    border-radius: 6px; }}
QPushButton[role="verifier"]:focus {{ border: 3px solid #f0a800; }}
QPushButton[role="primary"] {{ background: {ACCENT}; color: white; font-weight: bold;
    border-radius: 4px; }}
QPushButton[role="primary"]:disabled {{ background: #9fb3c8; }}
"""


def has_touch_screen() -> bool:
    from PySide6.QtGui import QInputDevice

    return any(d.type() == QInputDevice.DeviceType.TouchScreen
               for d in QInputDevice.devices())


def app_stylesheet(touch_screen: bool | None = None) -> str:
    """The app's style sheet. Scroll bars are a finger wide on a touch screen (kinetic
    scrolling moves the content too) and half that with only a mouse, where width is
    better spent on the form."""
    touch = has_touch_screen() if touch_screen is None else touch_screen
    bar = TOUCH if touch else TOUCH // 2
    return _BASE_STYLESHEET + (f"QScrollBar:vertical {{ width: {bar}px; }}\n"
                               f"QScrollBar:horizontal {{ height: {bar}px; }}\n")


def status_badge_html(status: str, error_kind: str | None = None) -> str:
    shown = badge(status, error_kind)
    return (f'<span style="background:{shown.colour}; color:white; padding:2px 8px; '
            f'border-radius:6px;">&nbsp;{shown.label}&nbsp;</span>')
