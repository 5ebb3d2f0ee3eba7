"""The first second (issue 20, item 6): process start -> the verifier's cases painted,
and the GUI thread's longest stall in the first 5 s after that, at an empty store and
at 100,000 cases; then the two-letter search that matches little ("zq") at 100,000.

Each run is a fresh `kycdesk --startup-check=5 --user NAME --pin-stdin` process (the
app's own clocks, kycdesk/startup_check.py): signed in through the real sign-in screen
(argon2id 64 MiB x 3, reported apart: it is the machine's cost of the PIN, not the
app's), the store opened, the rows painted (offscreen: Qt paints into its backing
store as on a screen), then the deferred startup (form definitions, sync stack, network
watch, the sync's credential read) and 5 s watched by a 2 ms probe timer: the longest
lateness is the longest a tap or keystroke would have waited. A server address and a
kept sync token are set (nothing listens there), so the sync starts and reads its
credential as on a tablet in the field.

    python -m benchmarks.first_second [--runs 5] [--cases 100000] [--keep DIR]
        [--exe dist/kycdesk/kycdesk]   # a built bundle instead of this checkout
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import header, percentile, summary_ms, verdict

REPO = Path(__file__).resolve().parents[1]
NAME, PIN = "Bench Verifier", "correct horse battery staple 42"
WATCH_S = 5.0
SERVER = "http://127.0.0.1:9"  # the discard port: nothing answers
TOKEN = "kyd_bench_0123456789abcdef"

_PREPARE = r"""
import sys
from pathlib import Path
from benchmarks.common import qt_app
app = qt_app()
from benchmarks import sign_in_list
from kycdesk.settings import SERVER_URL, Settings
root, cases, server, token = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
if cases and not (root / "verifiers").exists():
    sign_in_list.build_sealed(root, cases)
session = sign_in_list._session(root)
from kycdesk.paths import TabletPaths
from kycdesk.verifiers.registry import Registry
Registry.open(TabletPaths(root=root, log_dir=root / "logs")).set_credential(session, token)
Settings().set(SERVER_URL, server)
"""

_SEARCH = r"""
import json, sys, time
from pathlib import Path
from benchmarks.common import qt_app
app = qt_app()
from benchmarks import sign_in_list
from kycdesk.models.case_list_model import CaseListModel
from kycdesk.persistence.reader import ReadStore
session = sign_in_list._session(Path(sys.argv[1]))
reader = ReadStore(session.paths, vault=session.vault)
model = CaseListModel(reader)
model.rowCount()
keys = {"z": [], "zq": [], "ng": [], "an": []}
for _ in range(int(sys.argv[2])):
    for typed in (("z", "zq"), ("n", "ng"), ("a", "an")):
        for text in typed:
            start = time.perf_counter()
            model.set_search(text)
            model.rowCount()
            if text in keys:
                keys[text].append(time.perf_counter() - start)
        model.set_search("")
print(json.dumps({"keys": keys, "total": model.total()}))
model.set_reader(None)
reader.close()
"""


def child_env(home: Path) -> dict[str, str]:
    """Offscreen, and a settings folder of the benchmark's own (the server address)."""
    return dict(os.environ, PYTHONPATH=str(REPO), QT_QPA_PLATFORM="offscreen",
                HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"))


def prepare(root: Path, cases: int, home: Path) -> None:
    """The verifier (and their cases, unless kept from an earlier run), a kept sync
    token and the server address."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", _PREPARE, str(root), str(cases), SERVER, TOKEN],
                   cwd=REPO, env=child_env(home), check=True, timeout=3600)
    print(f"   tablet with {cases:,} cases ready in {time.perf_counter() - start:.0f} s",
          flush=True)


_FIGURES = {
    "painted_s": r"window shown, store open, \d+ case\(s\) listed after ([\d.]+) s",
    "argon2_s": r"PIN to keys \(argon2id and the registry\) ([\d.]+) s",
    "finished_s": r"startup finished at \+([\d.]+) s",
    "stall_ms": r"longest GUI stall (\d+) ms",
    "stall_at_s": r"longest GUI stall \d+ ms at \+([\d.]+) s",
    "over_50": r"\((\d+) over 50 ms",
    "rss_mb": r"peak memory \(RSS\) (\d+) MB",
}


def start_once(command: list[str], root: Path, home: Path) -> dict[str, float]:
    started = time.perf_counter()
    result = subprocess.run([*command, "--data-dir", str(root), f"--startup-check={WATCH_S}",
                             "--user", NAME, "--pin-stdin"], input=PIN + "\n",
                            capture_output=True, text=True, cwd=REPO, env=child_env(home),
                            timeout=300, check=False)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"start failed ({result.returncode}):\n{result.stdout}\n"
                         f"{result.stderr[-3000:]}")
    figures = {"wall_s": wall}
    for key, pattern in _FIGURES.items():
        found = re.search(pattern, result.stdout)
        if found is None:
            raise SystemExit(f"no {key} in the start check's report:\n{result.stdout}")
        figures[key] = float(found.group(1))
    return figures


def measure_starts(label: str, command: list[str], root: Path, home: Path,
                   runs: int) -> tuple[list[float], list[float]]:
    start_once(command, root, home)  # warm: the snapshot written, the files cached
    painted, stalls = [], []
    for _ in range(runs):
        f = start_once(command, root, home)
        painted.append(f["painted_s"] - f["argon2_s"])
        stalls.append(f["stall_ms"])
        print(f"   {label}: rows painted {f['painted_s']:.2f} s after process start "
              f"(argon2id + registry {f['argon2_s']:.2f} s of it), startup finished "
              f"{f['finished_s']:.2f} s after; longest stall {f['stall_ms']:.0f} ms at "
              f"+{f['stall_at_s']:.2f} s ({f['over_50']:.0f} over 50 ms); "
              f"peak RSS {f['rss_mb']:.0f} MB; "
              f"load {os.getloadavg()[0]:.1f}", flush=True)
    print(f"   {label}: start -> rows painted without argon2id: {summary_ms(painted)}; "
          f"longest stall per run: {', '.join(f'{s:.0f}' for s in stalls)} ms")
    return painted, stalls


def measure_search(root: Path, home: Path, rounds: int) -> dict[str, list[float]]:
    result = subprocess.run([sys.executable, "-c", _SEARCH, str(root), str(rounds)],
                            capture_output=True, text=True, cwd=REPO, env=child_env(home),
                            timeout=600, check=True)
    import json

    figures = json.loads(result.stdout.strip().splitlines()[-1])
    keys: dict[str, list[float]] = figures["keys"]
    for text, samples in keys.items():
        print(f"   search {text!r} typed a key at a time on {figures['total']:,} cases: "
              f"{summary_ms(samples)}")
    return keys


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--search-rounds", type=int, default=20)
    parser.add_argument("--keep", type=Path, help="where the tablets are built or reused")
    parser.add_argument("--exe", type=Path, help="a bundle's kycdesk executable")
    args = parser.parse_args()
    command = [str(args.exe)] if args.exe else [sys.executable, "-m", "kycdesk"]
    header(f"the first second: start -> rows painted, longest GUI stall in {WATCH_S:.0f} s "
           f"(empty store, {args.cases:,} cases)")
    print(f"   {os.cpu_count()} CPUs, load average at start {os.getloadavg()[0]:.1f}; "
          f"Python {platform.python_version()}; offscreen; "
          f"{'bundle ' + str(args.exe) if args.exe else 'this checkout'}; "
          f"sync set up ({SERVER}, nothing listening), {args.runs} runs after a warm-up")
    ok = True
    with tempfile.TemporaryDirectory(prefix="kycdesk-first-") as tmp:
        base = args.keep or Path(tmp)
        home = base / "home"
        home.mkdir(parents=True, exist_ok=True)
        painted, stalls = [], []
        for label, cases in (("empty", 0), (f"{args.cases:,} cases", args.cases)):
            root = base / f"tablet-{cases}"
            prepare(root, cases, home)
            p, s = measure_starts(label, command, root, home, args.runs)
            painted += p
            stalls += s
            ok &= verdict(f"{label}: start -> rows painted (p50, without argon2id)",
                          percentile(p, 50), 1.0, "s")
            ok &= verdict(f"{label}: longest GUI stall in the first {WATCH_S:.0f} s (worst run)",
                          max(s), 50, "ms")
        if args.cases and not args.exe:
            keys = measure_search(base / f"tablet-{args.cases}", home, args.search_rounds)
            ok &= verdict("two-letter search that matches little ('zq'), p99",
                          percentile(keys["zq"], 99) * 1000, 20, "ms")
            ok &= verdict("two-letter search that matches many ('an'), p99",
                          percentile(keys["an"], 99) * 1000, 20, "ms")
    print(f"   load average at end: {os.getloadavg()[0]:.1f}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
