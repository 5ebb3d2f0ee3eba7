"""The one place that finds bundled files, from a source checkout and from the frozen
PyInstaller bundle alike (the spec copies `resources/` next to the executable's code)."""

from __future__ import annotations

import sys
from pathlib import Path


def resource_root() -> Path:
    frozen_root = getattr(sys, "_MEIPASS", None)
    if getattr(sys, "frozen", False) and frozen_root:
        return Path(frozen_root) / "resources"
    return Path(__file__).resolve().parents[1] / "resources"


def resource_path(*parts: str) -> Path:
    return resource_root().joinpath(*parts)
