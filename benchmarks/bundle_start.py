"""Two built bundles started side by side: process start → sign-in screen, and start with
a PIN on stdin → the verifier's window (argon2id at the production cost included), both
with `--startup-check` offscreen, in the same run with the order alternating each round
(ABBA), so the ratio compares like with like on a busy machine.

    .venv/bin/python -m benchmarks.bundle_start --before /tmp/base/dist/kycdesk \
        --after dist/kycdesk --rounds 8

Each bundle gets its own scratch data folder with one verifier. Prints each side's median
and the median of the rounds' paired ratios (target: after/before ≤ 1.1).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.common import header, verdict

PIN = "bundle start benchmark passphrase"


def _timed(exe: Path, env: dict[str, str], signed_in: bool) -> float:
    argv = [str(exe), "--startup-check"] + (["--user", "Bench", "--pin-stdin"] if signed_in
                                             else [])
    expected = "window shown" if signed_in else "sign-in shown"
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, input=PIN + "\n", capture_output=True, text=True,
                          timeout=120, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0 or expected not in done.stdout:
        raise RuntimeError(f"{exe}: {done.stdout[-500:]} {done.stderr[-1500:]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", type=Path, required=True, help="the bundle folder")
    parser.add_argument("--after", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    header("bundle start: before vs after, ABBA")
    sides = {"before": args.before, "after": args.after}
    with tempfile.TemporaryDirectory(prefix="kycdesk-bundle-bench-") as tmp:
        envs = {}
        for name, bundle in sides.items():
            env = dict(os.environ, QT_QPA_PLATFORM="offscreen",
                       KYCDESK_DATA_DIR=str(Path(tmp) / name))
            subprocess.run([str(bundle / "kycdesk"), "user", "add", "Bench", "--pin-stdin"],
                           env=env, input=PIN + "\n", capture_output=True, text=True,
                           timeout=120, check=True)
            envs[name] = env
        results: dict[tuple[str, bool], list[float]] = {
            (name, signed_in): [] for name in sides for signed_in in (False, True)}
        for round_number in range(args.rounds):
            order = list(sides) if round_number % 2 == 0 else list(reversed(sides))
            for signed_in in (False, True):
                for name in order:
                    results[name, signed_in].append(
                        _timed(sides[name] / "kycdesk", envs[name], signed_in))
    ok = True
    for signed_in, label in ((False, "start → sign-in screen"),
                             (True, "start + PIN → verifier's window")):
        before, after = results["before", signed_in], results["after", signed_in]
        ratios = [a / b for a, b in zip(after, before, strict=True)]
        print(f"   {label}: before median {statistics.median(before):.3f} s "
              f"({min(before):.3f}–{max(before):.3f}), after median "
              f"{statistics.median(after):.3f} s ({min(after):.3f}–{max(after):.3f})")
        ok &= verdict(f"{label}, median paired ratio after/before",
                      statistics.median(ratios), 1.1, "x")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
