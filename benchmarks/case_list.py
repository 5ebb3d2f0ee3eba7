"""The case list on a realistic store of 10,000 cases and 100,000 photo rows: the list
figures of `benchmarks.scale` (realistic names in many languages, ID numbers,
references; first page, every sort both ways, a search typed key by key with selective
substrings, deep keyset paging) at the size of the first benchmarks, for comparison.
The store is built in a child process through the app's schema.

    python -m benchmarks.case_list [--cases 10000] [--images 100000] [--runs 5]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from benchmarks.common import header, qt_app
from benchmarks.scale import build_in_child, list_figures


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    app = qt_app()
    header(f"case list: {args.cases} cases, {args.images} photo rows")
    with tempfile.TemporaryDirectory(prefix="kycdesk-bench-") as tmp:
        data = Path(tmp) / "data"
        build_in_child(data, args.cases, args.images)
        ok = list_figures(data, args.runs)
    del app
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
