"""Case list first page with 10,000 cases and 100,000 image rows.

Rows are bulk-inserted through the store's connection (one transaction; this measures
the list, not demo-data), then the GUI's path is timed from nothing: open the read
connection, build the CaseListModel, have the first page of rows. Target < 300 ms.

    python -m benchmarks.case_list [--cases 10000] [--images 100000] [--runs 10]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from benchmarks.common import header, percentile, qt_app, summary_ms, verdict


def populate(paths: object, cases: int, images: int) -> None:
    from kycdesk.core.ids import new_id
    from kycdesk.persistence.store import LocalStore

    rng = random.Random(7)
    statuses = ["DRAFT", "READY", "SYNCED", "FAILED"]
    with LocalStore(paths) as store:  # type: ignore[arg-type]
        conn = store.conn
        ids = [new_id() for _ in range(cases)]
        with conn.transaction():
            for i, case_id in enumerate(ids):
                stamp = f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:00:{i % 60:02d}Z"
                conn.execute(
                    "INSERT INTO cases(id, reference_number, status, last_saved, created_at, "
                    "sync_attempts) VALUES (?, ?, ?, ?, ?, 0)",
                    (case_id, f"KYC-{100000 + i}", rng.choice(statuses), stamp, stamp))
                conn.execute("INSERT INTO case_forms(case_id, form_json, revision) "
                             "VALUES (?, '{}', 1)", (case_id,))
            for n in range(images):
                case_id = ids[n % cases]
                conn.execute(
                    "INSERT INTO case_images(case_id, file_path, client_image_id, sha256, "
                    "byte_size) VALUES (?, ?, ?, ?, ?)",
                    (case_id, f"cases/{case_id}/img_{n // cases + 1}.jpg", new_id(),
                     "0" * 64, 1000))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    app = qt_app()
    from kycdesk.models.case_list_model import CaseListModel
    from kycdesk.paths import resolve
    from kycdesk.persistence.reader import ReadStore

    header(f"case list: {args.cases} cases, {args.images} image rows")
    with tempfile.TemporaryDirectory(prefix="kycdesk-bench-") as tmp:
        paths = resolve(Path(tmp) / "data")
        start = time.perf_counter()
        populate(paths, args.cases, args.images)
        print(f"   populate: {time.perf_counter() - start:.1f} s")
        opens, pages = [], []
        for _ in range(args.runs):
            start = time.perf_counter()
            reader = ReadStore(paths)
            model = CaseListModel(reader)
            rows = model.rowCount()
            opens.append(time.perf_counter() - start)
            start = time.perf_counter()
            model.fetchMore()
            pages.append(time.perf_counter() - start)
            assert rows == 200 and model.total() == args.cases
            model.set_reader(None)
            reader.close()
        reader = ReadStore(paths)
        model = CaseListModel(reader)
        searches = []
        for text in ["K", "KY", "KYC-1", "KYC-10", "KYC-100", "KYC-1000", "KYC-10001", "",
                     "ab", "zzz"] * 3:
            start = time.perf_counter()
            model.set_search(text)
            model.rowCount()
            searches.append(time.perf_counter() - start)
        model.set_reader(None)
        reader.close()
    print(f"   open + first page: {summary_ms(opens)}")
    print(f"   search keystroke -> updated list: {summary_ms(searches)}")
    print(f"   next page (fetchMore): {summary_ms(pages)}")
    ok = verdict("open + first page p50", percentile(opens, 50) * 1000, 300, "ms")
    ok &= verdict("search keystroke p99", percentile(searches, 99) * 1000, 50, "ms")
    del app
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
