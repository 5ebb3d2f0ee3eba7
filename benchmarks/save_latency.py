"""Durable save and field-edit latency through the real writer thread.

- save: a 300-field (~30 KB) form saved through the writer (submit -> `saved` signal seen
  on the GUI thread), compared with a bare WAL + synchronous=FULL commit of the same JSON
  done by Python's sqlite3 in a *separate process* (never two SQLite libraries on one file
  in one process). Target: p99 <= 3x bare.
- edit: `append_edit` on the store (the statement the writer runs), and the writer's
  round trip (submit -> `completed`). Target: store p99 < 1 ms.

    python -m benchmarks.save_latency [--saves 300] [--edits 2000] [--fsync-delay-ms 0]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import header, percentile, qt_app, summary_ms, verdict
from benchmarks.slowdisk import add_fsync_option, apply_fsync_delay, describe
from tests.vaults import make_vault

BARE_SCRIPT = r"""
import json, sqlite3, sys, time
path, payload_file, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
payload = open(payload_file, encoding="utf-8").read()
db = sqlite3.connect(path, isolation_level=None)
db.execute("PRAGMA journal_mode=WAL"); db.execute("PRAGMA synchronous=FULL")
db.execute("CREATE TABLE f(id TEXT PRIMARY KEY, form_json TEXT, revision INTEGER)")
db.execute("INSERT INTO f VALUES ('c', '{}', 0)")
samples = []
for _ in range(count):
    t = time.perf_counter()
    db.execute("BEGIN IMMEDIATE")
    db.execute("UPDATE f SET form_json = ?, revision = revision + 1 WHERE id = 'c'", (payload,))
    db.execute("COMMIT")
    samples.append(time.perf_counter() - t)
print(json.dumps(samples))
"""


def make_form(fields: int = 300) -> dict[str, object]:
    form: dict[str, object] = {}
    for i in range(fields):
        form[f"step{i // 40}.field_{i:03d}"] = f"value {i} " + "x" * 80
    return form


def bare_commits(folder: Path, payload: str, count: int) -> list[float]:
    payload_file = folder / "payload.json"
    payload_file.write_text(payload, encoding="utf-8")
    out = subprocess.run([sys.executable, "-c", BARE_SCRIPT, str(folder / "bare.sqlite3"),
                          str(payload_file), str(count)],
                         capture_output=True, text=True, check=True).stdout
    return [float(x) for x in json.loads(out)]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--saves", type=int, default=300)
    parser.add_argument("--edits", type=int, default=2000)
    add_fsync_option(parser)
    args = parser.parse_args()
    if args.fsync_delay_ms:
        apply_fsync_delay(args.fsync_delay_ms)  # the bare-SQLite child inherits it too
    app = qt_app()
    from PySide6.QtCore import QEventLoop, QTimer

    from kycdesk.core.results import Result
    from kycdesk.paths import resolve
    from kycdesk.persistence.commands import AppendEdit, Command, CreateCase, SaveForm
    from kycdesk.persistence.store import LocalStore
    from kycdesk.persistence.writer import WriterThread

    header(f"durable save and field-edit latency, {describe(args.fsync_delay_ms)}")
    form = make_form()
    payload = json.dumps(form, sort_keys=True)
    print(f"   form: {len(form)} fields, {len(payload) / 1024:.1f} KB JSON")
    ok = True
    with tempfile.TemporaryDirectory(prefix="kycdesk-bench-") as tmp:
        folder = Path(tmp)
        paths = resolve(folder / "data")
        thread = WriterThread(paths, run_recovery=False, vault=make_vault())
        client = thread.client
        loop = QEventLoop()
        client.opened.connect(lambda _r: loop.quit())
        QTimer.singleShot(0, thread.start)
        loop.exec()

        def roundtrip(command: Command[object]) -> tuple[float, object]:
            """Submit and wait for this request's result, as delivered to the GUI thread."""
            results: list[Result[object]] = []

            def done(result: Result[object]) -> None:
                results.append(result)
                loop.quit()

            start = time.perf_counter()
            client.submit(command, done)
            while not results:
                loop.exec()
            return time.perf_counter() - start, results[0].unwrap()

        _, case_id = roundtrip(CreateCase())
        saves = []
        for i in range(args.saves):
            form["step0.field_000"] = f"changed {i}"
            elapsed, _ = roundtrip(SaveForm(str(case_id), dict(form)))
            saves.append(elapsed)
        edit_roundtrips = [roundtrip(AppendEdit(str(case_id), f"f{i % 50}", f"v{i}"))[0]
                           for i in range(args.edits)]
        thread.stop()

        with LocalStore(paths, vault=make_vault()) as store:
            direct_case = store.run(CreateCase())
            edits = []
            for i in range(args.edits):
                start = time.perf_counter()
                store.run(AppendEdit(direct_case, f"f{i % 50}", f"value {i}"))
                edits.append(time.perf_counter() - start)

        bare = bare_commits(folder, payload, args.saves)

    print(f"   save through writer: {summary_ms(saves)}")
    print(f"   bare WAL FULL commit (separate process): {summary_ms(bare)}")

    ratio = percentile(saves, 99) / percentile(bare, 99)
    ok &= verdict("save p99 / bare p99", ratio, 3.0, "x")
    print(f"   edit append (store): {summary_ms(edits)}")
    print(f"   edit round trip (submit -> acknowledged on GUI thread): "
          f"{summary_ms(edit_roundtrips)}")
    ok &= verdict("edit append p99", percentile(edits, 99) * 1000, 1.0, "ms")
    del app
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
