"""What the app needs from an on-screen keyboard, and which one this machine has."""

from __future__ import annotations

import logging
import os
import sys
from typing import Protocol

from PySide6.QtCore import QRect
from PySide6.QtGui import QWindow

log = logging.getLogger(__name__)

# auto (default): raise it on a touch screen with no hardware keyboard; always / never:
# IT's override for a fleet whose detection is wrong (a docked keyboard that reports as
# absent, a kiosk with a keyboard that must not see it). docs/deploy-windows.md.
POLICY_VARIABLE = "KYCDESK_TOUCH_KEYBOARD"
POLICIES = ("auto", "always", "never")


class TouchKeyboard(Protocol):
    """An on-screen keyboard. Rectangles are in Qt's global (logical, device-independent)
    coordinates, as `QWidget.mapToGlobal` gives them."""

    def wanted(self) -> bool:
        """Whether focusing a text field should raise it now (asked at each focus: a
        keyboard can be docked or undocked at any time)."""
        ...

    def show(self, window: QWindow) -> None:
        """Raise it for `window`, whose text field has just taken the focus."""
        ...

    def hide(self) -> None:
        """Put it away (the focus left the text fields)."""
        ...

    def occluded(self) -> QRect:
        """The part of the screen it covers now; an empty rectangle while it is hidden."""
        ...


class NoTouchKeyboard:
    """Off Windows (and on a Windows without the input pane): nothing to raise."""

    def wanted(self) -> bool:
        return False

    def show(self, window: QWindow) -> None:
        pass

    def hide(self) -> None:
        pass

    def occluded(self) -> QRect:
        return QRect()


def policy() -> str:
    chosen = os.environ.get(POLICY_VARIABLE, "auto").strip().lower() or "auto"
    if chosen not in POLICIES:
        log.warning("%s=%s is not one of %s: using auto", POLICY_VARIABLE, chosen,
                     "/".join(POLICIES))
        return "auto"
    return chosen


def system_keyboard() -> TouchKeyboard:
    """Windows' input pane on Windows, unless the policy says never; a no-op elsewhere."""
    chosen = policy()
    if sys.platform == "win32" and chosen != "never":
        from kycdesk.touch.windows import WindowsInputPane

        return WindowsInputPane(always=chosen == "always")
    return NoTouchKeyboard()
