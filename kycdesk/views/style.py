"""Sizes and colours shared by the views (touch first: targets >= 40 px)."""

from __future__ import annotations

from kycdesk.core.states import STATUS_COLOURS, CaseStatus, badge

TOUCH = 44
ERROR_COLOUR = STATUS_COLOURS[CaseStatus.FAILED]
APP_STYLESHEET = f"""
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
"""


def status_badge_html(status: str, error_kind: str | None = None) -> str:
    shown = badge(status, error_kind)
    return (f'<span style="background:{shown.colour}; color:white; padding:2px 8px; '
            f'border-radius:6px;">&nbsp;{shown.label}&nbsp;</span>')
