"""Code that runs only on Windows (ctypes COM calls behind `sys.platform == "win32"`) is
skipped by mypy on Linux, where CI runs: here it is type-checked as Windows would see it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WINDOWS_ONLY = ["kycdesk/touch", "kycdesk/models/lock_triggers.py"]


def test_windows_only_code_type_checks_as_windows(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--platform", "win32", "--follow-imports=silent",
         "--cache-dir", str(tmp_path / "mypy"), *WINDOWS_ONLY],
        cwd=REPO, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
