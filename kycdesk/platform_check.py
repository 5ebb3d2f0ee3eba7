"""Before the first window: are the system libraries Qt's X11 platform needs there?

Without them Qt aborts with a message few people can act on ("could not load the Qt
platform plugin xcb"). Debian/Ubuntu package names are given so the fix is one command.
"""

from __future__ import annotations

import ctypes.util
import os
import sys

# library (as ctypes.util.find_library names it) -> Debian/Ubuntu package
XCB_LIBRARIES = {
    "xcb-cursor": "libxcb-cursor0",
    "xcb-icccm": "libxcb-icccm4",
    "xcb-keysyms": "libxcb-keysyms1",
    "xcb-image": "libxcb-image0",
    "xcb-render-util": "libxcb-render-util0",
    "xcb-randr": "libxcb-randr0",
    "xcb-shape": "libxcb-shape0",
    "xcb-xkb": "libxcb-xkb1",
    "xkbcommon-x11": "libxkbcommon-x11-0",
    "EGL": "libegl1",
    "fontconfig": "libfontconfig1",
}


def missing_packages() -> list[str]:
    """Packages to install for Qt's xcb platform (empty elsewhere, or when another
    platform plugin was chosen)."""
    if not sys.platform.startswith("linux"):
        return []
    if os.environ.get("QT_QPA_PLATFORM", "xcb").split(":")[0] != "xcb":
        return []
    return [package for library, package in XCB_LIBRARIES.items()
            if ctypes.util.find_library(library) is None]


def explain(packages: list[str]) -> str:
    return ("kycdesk cannot open its window: system libraries that Qt needs on Linux are "
            "missing.\nInstall them, then start kycdesk again:\n\n"
            f"    sudo apt-get install {' '.join(packages)}\n\n"
            "(Other distributions have packages of similar names.)")
