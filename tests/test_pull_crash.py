"""SIGKILL during pull-and-apply: a real child process applies pages through the sync
store (the persistence writer), killed at random points; after each kill the store is
reopened and checked: the token names exactly the pages whose changes are there (the
page and its token are one transaction), nothing is applied twice, the held digest is
the digest of the held set. Then the feed runs to its end and the result is complete."""

from __future__ import annotations

import random
from pathlib import Path

from kycdesk.core.hashing import held_digest
from kycdesk.paths import DataPaths, resolve
from kycdesk.persistence.store import LocalStore
from tests.crash.harness import run_child
from tests.crash.pull_child import PER_PAGE, case_id, page_of
from tests.vaults import make_vault

PAGES = 40
KILLS = 12


def _check(paths: DataPaths) -> int:
    """The invariants after a kill; returns the page the store's token names."""
    with LocalStore(paths, vault=make_vault()) as store:
        store.recover()
        token, digest, count = store.pull_position()
        done = page_of(token)
        conn = store.conn
        ids = {str(r[0]) for r in conn.query_all("SELECT id FROM cases")}
        expected = {case_id(p, n) for p in range(1, done + 1) for n in range(PER_PAGE)}
        assert ids == expected, f"token t{done} but {len(ids)} cases (want {len(expected)})"
        held = [str(r[0]) for r in conn.query_all("SELECT case_id FROM held_cases")]
        assert (digest, count) == (held_digest(held), len(held)) and set(held) == expected
        # Each office correction applied once: one "office" entry per corrected case.
        office = conn.query_all("SELECT case_id, count(*) FROM field_history WHERE "
                                "why = 'office' GROUP BY case_id")
        assert all(n == 1 for _, n in office), office
        assert len(office) == max(0, done - 1)
        prefilled = conn.scalar("SELECT count(*) FROM field_history WHERE why = 'prefilled'")
        assert prefilled == len(expected)
        assert conn.scalar("SELECT count(*) FROM conflicts") == 0
        assert conn.scalar("PRAGMA integrity_check") == "ok"
        return done


def test_sigkill_during_pull_apply_keeps_the_token_and_the_changes_together(
        tmp_path: Path, qapp: object) -> None:
    data = tmp_path / "data"
    paths = resolve(data)
    rng = random.Random(1717)
    progress: list[int] = []
    for _ in range(KILLS):
        run_child(data, 0, [], max_ops=PAGES, kill_after_lines=rng.randrange(1, 4),
                  kill_delay_s=rng.uniform(0, 0.05), module="tests.crash.pull_child")
        progress.append(_check(paths))
        if progress[-1] == PAGES:
            break
    assert any(progress), "no page was ever applied before a kill"
    lines, _ = run_child(data, 0, [], max_ops=PAGES, kill_after_lines=10**9,
                         module="tests.crash.pull_child")
    assert lines[-1] == "DONE", lines[-3:]
    assert _check(paths) == PAGES
