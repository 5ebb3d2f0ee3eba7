"""Issue 18's proof: a copied data folder of an encrypted store holds no applicant value
in any file's raw bytes — names, ID numbers, incomes, e-mails, addresses, JPEG/PNG
signatures, photo SHA-256s — with 20 demo cases, and also as a SIGKILL in the middle of
saves left it (a real child process; the folder copied before any recovery ran, then
again after the next start repaired it). The migration's own proof (a clear store from
before sign-in) is in tests/test_legacy_migration.py."""

from __future__ import annotations

import json
import logging
import os
import random
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kycdesk.demo import generate
from kycdesk.logging_setup import configure
from kycdesk.paths import DataPaths, resolve
from kycdesk.persistence.commands import AppendEdit
from tests import raw_bytes
from tests.crash.harness import REPO_ROOT
from tests.legacy_store import values_needles
from tests.schema_level import may_need_sealed_values, needs_sealed_values
from tests.vaults import make_vault

CHILD_TIMEOUT_S = 120.0
TEST_VERIFIER = "00ab00ab00ab00ab"  # hex, as the registry makes them (TabletPaths.store)


@pytest.fixture
def logged(tmp_path: Path) -> Iterator[Path]:
    """The app's log file inside the data folder (debug detail), so the scan reads it."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    log_file = configure(tmp_path / "data" / "logs", verbose=True)
    assert log_file is not None
    yield log_file
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


@needs_sealed_values
def test_twenty_demo_cases_leave_no_clear_byte(qapp: object, tmp_path: Path,
                                               logged: Path) -> None:
    from kycdesk.persistence.store import LocalStore

    paths = resolve(tmp_path / "data")
    vault = make_vault(TEST_VERIFIER)
    needles = raw_bytes.signature_needles()
    with LocalStore(paths, vault=vault) as store:
        made = generate(store, cases=20, images_per_case=5, status="mixed",
                        image_size=(800, 600))
        assert made.images == 100
        for number, case_id in enumerate(made.case_ids):
            if store.load_case(case_id).status == "DRAFT":  # a keystroke not yet saved
                store.run(AppendEdit(case_id, "visit.discrepancies_note",
                                     f"Spoke to neighbour of case {number:04d} xq"))
                needles += raw_bytes.Needle.text(f"case {number} pending keystroke",
                                                 f"neighbour of case {number:04d} xq")
            form = store.load_case(case_id).form
            needles += values_needles(f"case {number}", dict(form))
            for image in store.list_images(case_id):
                assert image.sha256 is not None
                needles += raw_bytes.sha256_needles(f"case {number} photo {image.id}",
                                                    image.sha256)
        # Copied while the store is open: the WAL and SHM as they are.
        copy = raw_bytes.copy_as_found(paths.root, tmp_path / "copied-disk")
    scanned = raw_bytes.files_scanned(copy)
    assert len(needles) > 20 * 10 and logged.exists()
    assert any(n.endswith("-wal") for n in scanned) and any("logs/" in n for n in scanned)
    assert sum(1 for n in scanned if "/cases/" in f"/{n}") >= 100
    hits = raw_bytes.scan(copy, needles)
    assert hits == [], raw_bytes.summary(hits)


def _kill_child(data: Path, seed: int, kill_after: int, delay_s: float
                ) -> tuple[list[str], bool]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.crash.save_child", str(data), TEST_VERIFIER,
         str(seed), "6"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=REPO_ROOT, env=env)
    assert proc.stdout is not None
    lines: list[str] = []
    killed = False
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    buffer = b""
    deadline = time.monotonic() + CHILD_TIMEOUT_S
    try:
        while True:
            if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
                raise TimeoutError(f"save child silent: {lines[-3:]}")
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            buffer += chunk
            *complete, buffer = buffer.split(b"\n")
            for raw in complete:
                lines.append(raw.decode())
                if len(lines) > kill_after and not killed:
                    time.sleep(delay_s)  # fault injection: inside a commit or a copy
                    os.kill(proc.pid, signal.SIGKILL)
                    killed = True
    finally:
        selector.close()
        if proc.poll() is None and not killed:
            proc.kill()
        proc.wait()
        proc.stdout.close()
    return lines, killed


def _needles_from(lines: list[str]) -> list[raw_bytes.Needle]:
    needles = raw_bytes.signature_needles()
    for number, line in enumerate(lines):
        kind, _, payload = line.partition(" ")
        if kind == "CASE":
            needles += values_needles(f"case at line {number}", json.loads(payload))
        elif kind == "PHOTO":
            needles += raw_bytes.sha256_needles(f"photo at line {number}", payload)
    return needles


@may_need_sealed_values
@pytest.mark.slow
@pytest.mark.parametrize("round_", range(5))
def test_kill_in_the_middle_of_saves_leaves_no_clear_byte(
        qapp: object, tmp_path: Path, round_: int) -> None:
    from kycdesk.persistence.store import LocalStore

    rng = random.Random(1818 + round_)
    data = tmp_path / "data"
    lines, killed = _kill_child(data, seed=round_, kill_after=rng.randrange(3, 40),
                                delay_s=rng.uniform(0, 0.01))
    assert killed and any(line.startswith("CASE") for line in lines)
    needles = _needles_from(lines)
    as_left = raw_bytes.copy_as_found(data, tmp_path / "as-the-crash-left-it")
    hits = raw_bytes.scan(as_left, needles)
    assert hits == [], raw_bytes.summary(hits)
    # The next start repairs what was in flight; still nothing in clear.
    paths: DataPaths = resolve(data)
    with LocalStore(paths, vault=make_vault(TEST_VERIFIER)) as store:
        store.recover()
    after = raw_bytes.copy_as_found(data, tmp_path / "after-recovery")
    hits = raw_bytes.scan(after, needles)
    assert hits == [], raw_bytes.summary(hits)
