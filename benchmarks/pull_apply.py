"""Applying a pull page on the device: 50 changes (20 assignments with prefilled
answers, 10 returns with comments, 10 decisions, 10 office corrections) and the token,
in one transaction, on a store holding 10,000 cases. Target: < 1 s per page.
(The same figure as `benchmarks.two_way --only apply`, which also measures the schema
upgrade at 100,000 cases.)

    python -m benchmarks.pull_apply [--held 10000] [--runs 5]
"""

from __future__ import annotations

import argparse

from benchmarks.common import header, qt_app
from benchmarks.two_way import apply_figure


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--held", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    qt_app()
    header("pull apply on the device: a page of 50 changes")
    return 0 if apply_figure(args.held, args.runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
