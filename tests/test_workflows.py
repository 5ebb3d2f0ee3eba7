"""The CI workflows under .github/workflows, checked by actionlint (syntax, expressions,
contexts, step outputs, action versions) on every test run: they run only on GitHub, where
a mistake is found after a push, not before."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
WINDOWS = REPO / ".github" / "workflows" / "windows.yml"


def actionlint() -> str:
    """The dev extra's actionlint (in the venv beside this Python), else one on PATH."""
    beside = Path(sys.executable).with_name("actionlint")
    for candidate in (beside, beside.with_suffix(".exe")):
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("actionlint")
    assert found, "actionlint is not installed: it is in the dev extra (python3 dev.py test)"
    return found


def lint(*paths: Path, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    # -shellcheck= and -pyflakes= off: their findings depend on what else is installed.
    return subprocess.run([actionlint(), "-no-color", "-shellcheck=", "-pyflakes=",
                           *map(str, paths)], capture_output=True, text=True, cwd=cwd,
                          check=False)


def test_every_workflow_passes_actionlint() -> None:
    assert WORKFLOWS, "no workflow found under .github/workflows"
    done = lint(*WORKFLOWS)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_broken_workflow_fails_the_lint(tmp_path: Path) -> None:
    """The check can fail: a step output read under a step id that does not exist, and an
    unknown key, each make actionlint exit non-zero and name the line."""
    folder = tmp_path / ".github" / "workflows"
    folder.mkdir(parents=True)
    text = WINDOWS.read_text(encoding="utf-8")
    assert "steps.signing.outputs.enabled" in text
    broken = folder / "windows.yml"
    broken.write_text(text.replace("steps.signing.outputs.enabled",
                                   "steps.signin.outputs.enabled", 1), encoding="utf-8")
    done = lint(broken, cwd=tmp_path)
    assert done.returncode != 0
    assert "signin" in done.stdout
    broken.write_text(text.replace("timeout-minutes:", "timeout-minute:", 1),
                      encoding="utf-8")
    done = lint(broken, cwd=tmp_path)
    assert done.returncode != 0
    assert "timeout-minute" in done.stdout


def test_windows_workflow_builds_tests_signs_and_installs() -> None:
    """What issue 20 asks of the Windows workflow is in it (the lint checks how)."""
    text = WINDOWS.read_text(encoding="utf-8")
    for needed in ("runs-on: windows-latest", "python dev.py bundle", "--self-test",
                   "pytest -m qt", "tools/build_installer.py", "signtool",
                   "secrets.WINDOWS_SIGNING_PFX_BASE64", "Signing skipped", "/REMOVEDATA"):
        assert needed in text, needed
