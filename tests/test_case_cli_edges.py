"""`kycdesk case …` at its edges (issue 19): a reader that stops early, file names with
a newline, an export onto an existing file, archives with entries that point outside."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from contextlib import nullcontext
from pathlib import Path

import pytest

from kycdesk.paths import DataPaths
from tests.tablets import (
    TEST_PIN,
    make_tablet,
    signed_in_args,
    verifier_paths,  # noqa: F401  (the `paths` fixture)
)
from tests.test_case_cli import Capture, _filled_case, case, new_case


def _closed_pipe_run(paths: DataPaths, *argv: str) -> subprocess.CompletedProcess[bytes]:
    """Run the real command with stdout a pipe whose reader is already gone (what
    `| head -c1` leaves behind once head has its byte)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [sys.executable, "-m", "kycdesk", "case", *argv, *signed_in_args(paths)],
            input=f"{TEST_PIN}\n".encode(), stdout=write_end, stderr=subprocess.PIPE,
            timeout=60, check=False,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    finally:
        os.close(write_end)


@pytest.mark.parametrize("argv", [["list"], ["list", "--json"], ["show", "{case}", "--json"]])
def test_a_reader_that_stops_early_gets_no_traceback(
        qapp: object, paths: DataPaths, capsys: Capture, argv: list[str]) -> None:
    case_id = new_case(paths, capsys)
    result = _closed_pipe_run(paths, *[a.format(case=case_id) for a in argv])
    assert b"Traceback" not in result.stderr
    assert b"BrokenPipe" not in result.stderr
    assert result.returncode == 1


def test_a_newline_in_a_file_name_cannot_split_attach_output(
        qapp: object, paths: DataPaths, image_dir: Path, tmp_path: Path,
        capsys: Capture) -> None:
    case_id = new_case(paths, capsys)
    odd = tmp_path / "id\nfront\\x.jpg"
    shutil.copy(image_dir / "photo.jpg", odd)
    fake = tmp_path / "accepted fake\rrejected.jpg"
    fake.write_text("not a photo")
    code, out, _ = case(paths, capsys, "attach", case_id, str(odd), str(fake))
    lines = out.splitlines()
    assert len(lines) == 2, out
    assert lines[0].startswith("accepted ") and "id\\nfront\\\\x.jpg" in lines[0]
    assert lines[1].startswith("rejected ") and "fake\\rrejected.jpg" in lines[1]
    assert code == 1


def test_export_refuses_to_overwrite_unless_forced(
        qapp: object, paths: DataPaths, image_dir: Path, tmp_path: Path,
        capsys: Capture) -> None:
    case_id = _filled_case(paths, capsys, image_dir)
    archive = tmp_path / "case.zip"
    archive.write_bytes(b"somebody's earlier export")
    code, _, err = case(paths, capsys, "export", "--clear", case_id, "-o", str(archive))
    assert code == 1 and "exists" in err and "--force" in err
    assert archive.read_bytes() == b"somebody's earlier export"
    assert not list(tmp_path.glob(".case.zip*"))
    code, out, _ = case(paths, capsys, "export", "--clear", case_id, "-o", str(archive), "--force")
    assert code == 0 and "2 photo(s)" in out
    assert zipfile.is_zipfile(archive)
    assert not list(tmp_path.glob(".case.zip*"))  # the temporary file was renamed


@pytest.mark.parametrize(("entry", "words"), [
    ("../evil.jpg", "points outside"),
    ("photos/../../evil.jpg", "points outside"),
    ("/etc/evil", "points outside"),
    ("C:/evil.jpg", "points outside"),
    ("photos\\..\\evil.jpg", "points outside"),
    ("manifest.json", "twice"),
])
def test_an_archive_with_entries_pointing_outside_is_refused_whole(
        qapp: object, paths: DataPaths, image_dir: Path, tmp_path: Path,
        capsys: Capture, entry: str, words: str) -> None:
    case_id = _filled_case(paths, capsys, image_dir)
    archive = tmp_path / "case.zip"
    assert case(paths, capsys, "export", "--clear", case_id, "-o", str(archive))[0] == 0
    bad = tmp_path / "bad.zip"
    shutil.copy(archive, bad)
    duplicate = pytest.warns(UserWarning, match="Duplicate name")
    with zipfile.ZipFile(bad, "a") as opened, \
            duplicate if entry == "manifest.json" else nullcontext():
        opened.writestr(entry, b"extra")
    other = make_tablet(tmp_path / "other-device").paths
    code, _, err = case(other, capsys, "import", str(bad))
    assert code == 1 and words in err and "nothing was imported" in err
    assert json.loads(case(other, capsys, "list", "--json")[1]) == []

