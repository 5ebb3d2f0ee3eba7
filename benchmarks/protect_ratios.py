"""Issue 18's ratios: this code (encryption at rest) against the code before it, measured
in the same run, alternating, so the machine's load hits both alike.

"Before" is a git worktree of the commit before issue 18's wiring (default 8736cd9),
made by this script in a temporary folder and removed at the end. Each figure comes from
the project's own benchmark of that thing, run as a child process in each tree (each
tree runs its own copy of the benchmark file: the new one opens the store with a vault),
and is parsed from its output line:

| figure | benchmark | target |
|---|---|---|
| keystroke -> durable p99, 50 ms fsync | typing_durable | <= 1.2x |
| open a 200-photo case: usable form | open_case | < 100 ms (and the ratio) |
| all thumbnails, cold (no stored thumbnails) | open_case --cold | <= 1.2x |
| sync: 50 photos through the engine (time) | sync_throughput | time <= 1.11x (throughput >= 0.9x) |
| photo import p50 | image_import | <= 1.2x |

    python -m benchmarks.protect_ratios [--runs 2] [--only typing,import] [--quick]
        [--base-commit 8736cd9 | --base-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import header

REPO = Path(__file__).resolve().parents[1]
BASE_COMMIT = "8736cd9"
CHILD_TIMEOUT_S = 1800


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    module: str
    args: tuple[str, ...]
    quick_args: tuple[str, ...]
    pattern: str            # one group: the number
    unit: str
    ratio_target: float     # new / before, for "lower is better" figures
    higher_is_better: bool = False
    absolute_target: float | None = None   # on the new code's figure, same unit

    def ratio_ok(self, ratio: float) -> bool:
        return ratio >= self.ratio_target if self.higher_is_better \
            else ratio <= self.ratio_target


FIGURES = (
    Figure("typing", "keystroke -> durable p99 (50 ms fsync)", "benchmarks.typing_durable",
           ("--fsync-delay-ms", "50", "--seconds", "30"),
           ("--fsync-delay-ms", "50", "--seconds", "15"),
           r"keystroke -> durable: .*?p99=([\d.]+) ms", "ms", 1.2),
    Figure("open", "open a 200-photo case: usable form", "benchmarks.open_case",
           ("--photos", "200"), ("--photos", "200"),
           r"usable form: ([\d.]+) ms", "ms", 1.2, absolute_target=100.0),
    Figure("cold", "all thumbnails, cold (200 photos)", "benchmarks.open_case",
           ("--photos", "200", "--cold"), ("--photos", "60", "--cold"),
           r"thumbnails decoded: ([\d.]+) s", "s", 1.2),
    # Throughput >= 0.9x of before is time <= 1/0.9 = 1.11x for the same 50 photos.
    Figure("sync", "sync 50 photos through the engine (time; throughput >= 0.9x)",
           "benchmarks.sync_throughput", (), (),
           r"kycdesk engine .*?: ([\d.]+) s", "s", round(1 / 0.9, 2)),
    Figure("import", "photo import p50 (12 MP JPEG)", "benchmarks.image_import",
           ("--runs", "20"), ("--runs", "8"),
           r"full import: .*?p50=([\d.]+) ms", "ms", 1.2),
)


def make_base(commit: str, folder: Path) -> Path:
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(folder),
                    commit], check=True, capture_output=True)
    return folder


def remove_base(folder: Path) -> None:
    subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(folder)],
                   check=False, capture_output=True)


def run_in(tree: Path, figure: Figure, quick: bool) -> tuple[float | None, str]:
    env = dict(os.environ, PYTHONPATH=str(tree), QT_QPA_PLATFORM="offscreen")
    env.pop("LD_PRELOAD", None)
    args = figure.quick_args if quick else figure.args
    proc = subprocess.run([sys.executable, "-m", figure.module, *args], cwd=tree, env=env,
                          capture_output=True, text=True, timeout=CHILD_TIMEOUT_S,
                          check=False)
    match = re.search(figure.pattern, proc.stdout)
    if match is None:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-5:]
        return None, " | ".join(tail)
    return float(match.group(1)), ""


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--only", default="", help="comma-separated keys: "
                        + ",".join(f.key for f in FIGURES))
    parser.add_argument("--quick", action="store_true",
                        help="shorter runs (fewer seconds of typing, fewer photos cold)")
    parser.add_argument("--base-commit", default=BASE_COMMIT)
    parser.add_argument("--base-dir", type=Path, default=None,
                        help="an existing worktree of the code before (else one is made)")
    parser.add_argument("--after-dir", type=Path, default=REPO,
                        help="the tree measured as 'after' (default: this one)")
    args = parser.parse_args()
    wanted = {k for k in args.only.split(",") if k}
    figures = [f for f in FIGURES if not wanted or f.key in wanted]
    header(f"issue 18 ratios: this tree vs {args.base_commit}, {args.runs} run(s) each, "
           f"alternating{' (quick)' if args.quick else ''}")
    print(f"   load average at start: {os.getloadavg()[0]:.1f}")
    made = None
    if args.base_dir is None:
        made = make_base(args.base_commit, Path(tempfile.mkdtemp(prefix="kycdesk-base-"))
                         / "tree")
    base = args.base_dir or made
    assert base is not None
    ok = True
    try:
        for figure in figures:
            samples: dict[str, list[float]] = {"before": [], "after": []}
            for run in range(args.runs):
                order = (("before", base), ("after", args.after_dir))
                for name, tree in order if run % 2 == 0 else tuple(reversed(order)):
                    start = time.perf_counter()
                    value, problem = run_in(tree, figure, args.quick)
                    took = time.perf_counter() - start
                    if value is None:
                        print(f"   {figure.key} {name} run {run + 1}: NO FIGURE ({problem})")
                        continue
                    samples[name].append(value)
                    print(f"   {figure.key} {name} run {run + 1}: {value:g} {figure.unit} "
                          f"({took:.0f} s, load {os.getloadavg()[0]:.1f})", flush=True)
            if not samples["before"] or not samples["after"]:
                print(f"   {figure.label}: MISSED (a run gave no figure)")
                ok = False
                continue
            before = statistics.median(samples["before"])
            after = statistics.median(samples["after"])
            ratio = after / before
            sign = ">=" if figure.higher_is_better else "<="
            verdict_ok = figure.ratio_ok(ratio)
            line = (f"   {figure.label}: before {before:g} {figure.unit}, after {after:g} "
                    f"{figure.unit} (medians), ratio {ratio:.2f}x (target {sign} "
                    f"{figure.ratio_target}x)")
            if figure.absolute_target is not None:
                absolute_ok = after < figure.absolute_target
                line += (f"; after < {figure.absolute_target:g} {figure.unit}: "
                         f"{'yes' if absolute_ok else 'no'}")
                verdict_ok &= absolute_ok
            print(line + (" OK" if verdict_ok else " MISSED"), flush=True)
            ok &= verdict_ok
    finally:
        if made is not None:
            remove_base(made)
    print(f"   load average at end: {os.getloadavg()[0]:.1f}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
