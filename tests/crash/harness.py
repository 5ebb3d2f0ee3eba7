"""Parent side of the crash tests: run the child, SIGKILL it after a chosen number of
output lines, reopen the store (startup recovery) and check every promise:

- integrity_check ok, no .tmp or tombstone left, every row has its file with its hash;
- the form equals the acknowledged edits, or those plus some of the edits that were in
  flight (submitted, not yet acknowledged) — never less, never anything else;
- every acknowledged photo is there (unless its delete was acknowledged), every
  acknowledged delete is gone; an unacknowledged import either exists whole or not.

Used by tests/test_crash_kill.py (~20 kills) and benchmarks/crash_loop.py (1,000).
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kycdesk.paths import resolve
from kycdesk.persistence import intents as journal
from kycdesk.persistence.store import LocalStore
from tests.vaults import make_vault

REPO_ROOT = Path(__file__).resolve().parents[2]
LINE_TIMEOUT_S = 60.0


@dataclass
class KillOutcome:
    killed: bool
    lines: int
    acked_edits: int
    intended_edits: int
    applied_edits: int
    acked_images: int
    repairs: int
    lost_and_found: int
    failures: list[str] = field(default_factory=list)


def run_child(data_dir: Path, seed: int, images: list[Path], *, max_ops: int,
              kill_after_lines: int, kill_delay_s: float = 0.0,
              module: str = "tests.crash.child") -> tuple[list[str], bool]:
    """Run the child; SIGKILL it `kill_delay_s` after it printed `kill_after_lines` lines
    after READY. The delay is part of the fault injection (it lets the kill land inside
    a copy, a rename or a commit rather than always right after a print)."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", module, str(data_dir), str(seed), str(max_ops),
         *map(str, images)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=REPO_ROOT, env=env,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    killed = False
    after_ready = -1
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    buffer = b""
    deadline = time.monotonic() + LINE_TIMEOUT_S
    try:
        while True:
            if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
                raise TimeoutError(f"crash child silent for {LINE_TIMEOUT_S}s: {lines[-3:]}")
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            deadline = time.monotonic() + LINE_TIMEOUT_S
            buffer += chunk
            *complete, buffer = buffer.split(b"\n")
            for raw in complete:
                line = raw.decode()
                lines.append(line)
                if line.startswith("READY"):
                    after_ready = 0
                elif after_ready >= 0:
                    after_ready += 1
                if after_ready >= kill_after_lines and not killed:
                    if kill_delay_s > 0:
                        time.sleep(kill_delay_s)
                    os.kill(proc.pid, signal.SIGKILL)
                    killed = True
            # After the kill, keep reading to EOF: lines the child wrote before it died
            # are still in the pipe and describe writes that may have reached the disk.
    finally:
        selector.close()
        if proc.poll() is None and not killed:
            proc.kill()
            killed = True
        proc.wait()
        proc.stdout.close()
    return lines, killed


def _replay(edits: list[tuple[str, Any]]) -> dict[str, Any]:
    form: dict[str, Any] = {}
    for key, value in edits:
        form[key] = value
    return form


@dataclass
class ChildLog:
    """What a crash child printed: READY case, INTENT n payload, ACK n [payload], FAIL."""

    case_id: str | None
    intents: dict[int, dict[str, Any]]
    acks: dict[int, Any]
    failures: list[str]


def parse_child_lines(lines: list[str]) -> ChildLog:
    case_id = next((ln.split()[1] for ln in lines if ln.startswith("READY")), None)
    intents: dict[int, dict[str, Any]] = {}
    acks: dict[int, Any] = {}
    failures: list[str] = []
    for line in lines:
        kind, _, rest = line.partition(" ")
        number, _, payload = rest.partition(" ")
        if kind == "INTENT":
            intents[int(number)] = json.loads(payload)
        elif kind == "ACK":
            acks[int(number)] = json.loads(payload) if payload else None
        elif kind == "FAIL":
            failures.append(f"child reported a failed write: {line}")
    return ChildLog(case_id, intents, acks, failures)


def verify(data_dir: Path, lines: list[str], killed: bool) -> KillOutcome:
    log = parse_child_lines(lines)
    failures = list(log.failures)
    case_id, intents, acks = log.case_id, log.intents, log.acks
    edits = [(n, op) for n, op in sorted(intents.items()) if op["kind"] == "edit"]
    acked_edit_count = sum(1 for n, _ in edits if n in acks)
    if any(n not in acks for n, _ in edits[:acked_edit_count]):
        failures.append("acknowledgements were not in submission order")
    paths = resolve(data_dir)
    with LocalStore(paths, vault=make_vault()) as store:
        report = store.recover()  # what startup does: repair what the journal names
        # Then look at everything, repairing nothing: anything left is a leftover the
        # journal failed to name (startup would never have repaired it).
        check = store.check(repair=False, verify_hashes=True, full_integrity=True)
        failures += [f"integrity: {e}" for e in check.integrity_errors]
        failures += [f"row without file: {m}" for m in check.missing_files]
        failures += [f"size mismatch: {m}" for m in check.size_mismatches]
        failures += [f"hash mismatch: {m}" for m in check.hash_mismatches]
        failures += [f"not repaired at startup: {m}" for m in check.leftovers]
        failures += [f"intent left in the journal: {i.path.name}"
                     for i in journal.pending(paths.root)]
        leftovers = [p for p in paths.cases_dir.rglob("*")
                     if p.name.endswith(".tmp") or p.name.startswith(".del_")]
        failures += [f"leftover after recovery: {p}" for p in leftovers]
        applied = -1
        images_acked = 0
        if case_id is not None:
            form = store.load_case(case_id).form
            for k in range(acked_edit_count, len(edits) + 1):
                if _replay([(op["field"], op["value"]) for _, op in edits[:k]]) == form:
                    applied = k
                    break
            if applied < 0:
                failures.append(f"form matches no prefix of edits between the "
                                f"{acked_edit_count} acknowledged and {len(edits)} sent")
            rows = {img.id: img for img in store.list_images(case_id)}
            added = {acks[n]["image_id"]: acks[n]["sha256"] for n, op in intents.items()
                     if op["kind"] == "add" and n in acks}
            deleted = {op["image_id"] for n, op in intents.items()
                       if op["kind"] == "delete" and n in acks}
            pending_deletes = {op["image_id"] for n, op in intents.items()
                               if op["kind"] == "delete" and n not in acks}
            unacked_adds = sum(1 for n, op in intents.items()
                               if op["kind"] == "add" and n not in acks)
            images_acked = len(added)
            for image_id, sha in added.items():
                if image_id in deleted:
                    if image_id in rows:
                        failures.append(f"acknowledged delete of photo {image_id} undone")
                elif image_id not in rows:
                    if image_id not in pending_deletes:
                        failures.append(f"acknowledged photo {image_id} lost")
                elif rows[image_id].sha256 != sha:
                    failures.append(f"photo {image_id} changed its hash")
            extra = [i for i in rows if i not in added]
            if len(extra) > unacked_adds:
                failures.append(f"{len(extra)} unexpected photo rows "
                                f"(only {unacked_adds} imports were in flight)")
    return KillOutcome(killed=killed, lines=len(lines), acked_edits=acked_edit_count,
                       intended_edits=len(edits), applied_edits=applied,
                       acked_images=images_acked, repairs=report.repairs,
                       lost_and_found=check.lost_and_found_count, failures=failures)


def kill_once(data_dir: Path, seed: int, images: list[Path], *, max_ops: int,
              kill_after_lines: int, kill_delay_s: float = 0.0) -> KillOutcome:
    lines, killed = run_child(data_dir, seed, images, max_ops=max_ops,
                              kill_after_lines=kill_after_lines, kill_delay_s=kill_delay_s)
    return verify(data_dir, lines, killed)


def verify_editor(data_dir: Path, lines: list[str]) -> list[str]:
    """Every acknowledged keystroke is on disk; the one in flight may or may not be."""
    failures: list[str] = []
    log = parse_child_lines(lines)
    case_id, intents, acked = log.case_id, log.intents, set(log.acks)
    if case_id is None:
        return failures  # killed before the case existed: nothing was promised
    expected: dict[str, str] = {}
    in_flight: dict[str, str] | None = None
    for number in sorted(intents):
        if number in acked:
            expected[intents[number]["field"]] = intents[number]["text"]
        else:
            in_flight = intents[number]
    with LocalStore(resolve(data_dir), vault=make_vault()) as store:
        form = store.load_case(case_id).form
    for key, text in expected.items():
        got = form.get(key, "")
        allowed = {text}
        if in_flight is not None and in_flight["field"] == key:
            allowed.add(in_flight["text"])
        if got not in allowed:
            failures.append(f"{key}: on disk {got!r}, acknowledged {text!r}")
    if (in_flight is not None and in_flight["field"] not in expected
            and form.get(in_flight["field"], "") not in ("", in_flight["text"])):
        failures.append(f"{in_flight['field']}: unexpected {form[in_flight['field']]!r}")
    return failures


def make_sources(folder: Path) -> list[Path]:
    """JPEGs for the child to import, small to camera-sized (a big copy widens the
    window in which a kill lands mid-import). Needs a QGuiApplication here."""
    from kycdesk.demo import render_photo

    folder.mkdir(parents=True, exist_ok=True)
    sources = []
    for index, size in enumerate([(640, 480), (1600, 1200), (2000, 1500), (4000, 3000)]):
        path = folder / f"source_{index}.jpg"
        render_photo(path, label=f"SOURCE {index}", subtitle="crash test", seed=index,
                     size=size, quality=95)
        sources.append(path)
    return sources
