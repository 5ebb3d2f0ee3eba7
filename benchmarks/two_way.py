"""Two-way sync on the device (issue 17): the schema migration at 100,000 cases and
applying a pull page on a store holding 10,000 cases.

- migrate: a store at schema 7 (the release before two-way) with N cases (72 % synced,
  each with a ~2 KB form) is upgraded to the current schema by opening it, as the app
  does at start; the wall time of the upgrade alone is reported (target: < 10 s at
  100,000 cases on this machine: no rewrite of the case table).
- apply: a page of 50 changes as the server sends them (20 assignments with prefilled
  answers, 10 returns with comments, 10 decisions, 10 office corrections), applied with
  its token in one transaction through the store (`ApplyPull`), on a store of M cases
  (all synced and held); median and worst of `--runs` pages (target: < 1 s per page).

    python -m benchmarks.two_way [--cases 100000] [--held 10000] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
import uuid
from pathlib import Path

from benchmarks.common import header, qt_app, verdict
from tests.vaults import make_vault

FORM = {f"step{s}.field_{f:02d}": f"answer {s}-{f} " + "x" * 20
        for s in range(6) for f in range(12)}


def build_v7(data_dir: Path, cases: int, *, synced_share: float = 0.72,
             version: int = 7) -> list[str]:
    """A store at schema `version` with `cases` cases (bulk, through the app's schema
    code and connection); returns the synced cases' ids."""
    from kycdesk.paths import ensure_private_dir, resolve
    from kycdesk.persistence import schema
    from kycdesk.persistence.db import Connection

    paths = resolve(data_dir)
    ensure_private_dir(paths.root)
    ensure_private_dir(paths.cases_dir)
    conn = Connection(paths.database, role="bench", writer=True)
    rng = random.Random(17)
    synced: list[str] = []
    form_json = json.dumps(FORM)
    try:
        conn.configure()
        conn.execute("PRAGMA synchronous=OFF")  # building test data, not measuring it
        schema.migrate(conn, target=version)
        done = 0
        while done < cases:
            with conn.transaction():
                for _ in range(min(5000, cases - done)):
                    case_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                    is_synced = rng.random() < synced_share
                    status = "SYNCED" if is_synced else rng.choice(["DRAFT", "READY"])
                    receipt = json.dumps({"receipt_id": "r", "revision": 3,
                                          "accepted_at": "2026-01-01T00:00:00Z"}) \
                        if is_synced else None
                    conn.execute(
                        "INSERT INTO cases(id, reference_number, status, last_saved, "
                        "created_at, form_id, form_version, applicant_name, sync_attempts, "
                        "server_receipt) VALUES (?,?,?,?,?,'individual_kyc','3',?,0,?)",
                        (case_id, f"KYC-{done:06d}", status, "2026-01-01T00:00:00Z",
                         "2026-01-01T00:00:00Z", f"Applicant {done}", receipt))
                    conn.execute("INSERT INTO case_forms(case_id, form_json, form_version, "
                                 "revision, updated_at) VALUES (?, ?, '3', 3, ?)",
                                 (case_id, form_json, "2026-01-01T00:00:00Z"))
                    if is_synced:
                        synced.append(case_id)
                    done += 1
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return synced


def migrate_figure(cases: int) -> bool:
    from kycdesk.paths import resolve
    from kycdesk.persistence import schema
    from kycdesk.persistence.store import LocalStore

    with tempfile.TemporaryDirectory(prefix="kycdesk-bench-") as tmp:
        data = Path(tmp) / "data"
        start = time.perf_counter()
        build_v7(data, cases)
        print(f"   built {cases} cases at schema 7 in {time.perf_counter() - start:.0f} s")
        start = time.perf_counter()
        with LocalStore(resolve(data), vault=make_vault()) as store:
            elapsed = time.perf_counter() - start
            assert schema.user_version(store.conn) == schema.LATEST_VERSION
            held = store.pull_position()[2]
        print(f"   upgrade to schema {schema.LATEST_VERSION}: {elapsed:.2f} s "
              f"({held} synced cases put in the held set)")
        return verdict(f"migration at {cases} cases", elapsed, 10.0, "s")


def _page(feed_seq: int, synced: list[str], rng: random.Random) -> object:
    from kycdesk.core.protocol import PullReply

    changes = []
    seq = feed_seq
    at = "2026-06-01T09:00:00Z"
    for number in range(20):
        seq += 1
        changes.append({"seq": seq, "kind": "assigned", "case_id": str(uuid.uuid4()),
                        "at": at, "by": "Sam", "reference_number": f"A-{seq}",
                        "applicant_name": f"Assigned {number}", "due_date": "2026-06-30",
                        "form_id": "individual_kyc", "form_version": "3",
                        "form": {"applicant.first_name": "Ann", "applicant.last_name": "Lee",
                                 "address.line1": "1 High St"},
                        "prefilled": ["applicant.first_name", "applicant.last_name"]})
    picked = rng.sample(synced, 30)
    for case_id in picked[:10]:
        seq += 1
        changes.append({"seq": seq, "kind": "returned", "case_id": case_id, "at": at,
                        "by": "Rae", "revision": 3, "comments": [
                            {"field_key": "step0.field_01", "text": "Check", "author": "Rae",
                             "at": at}, {"text": "Photo blurred", "author": "Rae", "at": at}]})
    for case_id in picked[10:20]:
        seq += 1
        changes.append({"seq": seq, "kind": "decided", "case_id": case_id, "at": at,
                        "by": "Rae", "revision": 3, "decision": "approved"})
    for case_id in picked[20:]:
        seq += 1
        changes.append({"seq": seq, "kind": "office_edit", "case_id": case_id, "at": at,
                        "by": "Olga", "field_key": "step1.field_02", "value": "corrected",
                        "base_value": FORM["step1.field_02"]})
    return PullReply.model_validate_json(json.dumps(
        {"token": f"t{seq}", "changes": changes, "more": False}))


def apply_figure(cases: int, runs: int) -> bool:
    from kycdesk.core.protocol import PullReply
    from kycdesk.paths import resolve
    from kycdesk.persistence.commands import ApplyPull
    from kycdesk.persistence.store import LocalStore

    rng = random.Random(50)
    with tempfile.TemporaryDirectory(prefix="kycdesk-bench-") as tmp:
        data = Path(tmp) / "data"
        synced = build_v7(data, cases, synced_share=1.0, version=7)
        times: list[float] = []
        with LocalStore(resolve(data), vault=make_vault()) as store:  # migrated: all held
            seq = 0
            for _ in range(runs):
                page = _page(seq, synced, rng)
                assert isinstance(page, PullReply)
                synced = [c for c in synced if c not in
                          {ch.case_id for ch in page.changes if ch.kind == "returned"}]
                start = time.perf_counter()
                applied = store.run(ApplyPull(page))
                times.append(time.perf_counter() - start)
                assert applied.changes == 50
                seq += 50
        times.sort()
        print(f"   apply 50 changes on {cases} held cases (synchronous=FULL, WAL): "
              f"median {times[len(times) // 2] * 1000:.0f} ms, worst {times[-1] * 1000:.0f} ms"
              f" over {runs} pages")
        return verdict("apply a page of 50 changes", times[-1], 1.0, "s")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=100_000, help="cases for the migration")
    parser.add_argument("--held", type=int, default=10_000, help="cases for the apply")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", choices=["migrate", "apply"])
    args = parser.parse_args()
    qt_app()
    header("two-way sync on the device: migration and pull apply")
    ok = True
    if args.only in (None, "migrate"):
        ok &= migrate_figure(args.cases)
    if args.only in (None, "apply"):
        ok &= apply_figure(args.held, args.runs)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
