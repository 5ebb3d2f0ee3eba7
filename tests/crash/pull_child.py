"""Crash-test child for the pull: applies a deterministic feed of pages through the sync
store (the persistence writer, as the sync worker does), from the token the store holds,
printing after each page is durable:

    READY <token or ->
    APPLIED <page number> <changes applied>
    DONE

Each run first applies the page of the stored token again (a reply fetched twice after
a lost acknowledgement) — it must change nothing.

Usage: python -m tests.crash.pull_child DATA_DIR SEED PAGES   (the crash harness's
DATA_DIR SEED MAX_OPS: the seed is unused, the feed is fixed)
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

from tests.vaults import make_vault

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from kycdesk.core.protocol import PullReply
from kycdesk.paths import resolve
from kycdesk.persistence.sync_store import standalone_sync_store

NAMESPACE = uuid.UUID("6d1f8a40-1b5c-4c7e-9f0e-3a2b1c0d9e8f")
PER_PAGE = 4  # assignments per page (plus one office correction of the previous page's)


def case_id(page: int, number: int) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{page}-{number}"))


def page(number: int) -> PullReply:
    """Page `number` (1-based) of the feed, as the server would send it."""
    at = "2026-06-01T09:00:00Z"
    seq = (number - 1) * (PER_PAGE + 1)
    changes: list[dict[str, object]] = []
    for n in range(PER_PAGE):
        seq += 1
        changes.append({"seq": seq, "kind": "assigned", "case_id": case_id(number, n),
                        "at": at, "by": "Sam", "reference_number": f"P{number}-{n}",
                        "form": {"applicant.first_name": "Ann"},
                        "prefilled": ["applicant.first_name"]})
    seq += 1
    if number > 1:
        changes.append({"seq": seq, "kind": "office_edit", "case_id": case_id(number - 1, 0),
                        "at": at, "by": "Olga", "field_key": "applicant.first_name",
                        "value": "Anne", "base_value": "Ann"})
    return PullReply.model_validate({"token": f"t{number}", "changes": changes,
                                     "more": False})


def page_of(token: str | None) -> int:
    return int(token[1:]) if token else 0


def main() -> None:
    data_dir, pages = Path(sys.argv[1]), int(sys.argv[3])
    with standalone_sync_store(resolve(data_dir), vault=make_vault()) as store:
        token = store.pull_position()[0]
        print(f"READY {token or '-'}", flush=True)
        done = page_of(token)
        if done:
            again = store.apply_pull(page(done), resync=False)
            print(f"APPLIED {done} {again}", flush=True)
        for number in range(done + 1, pages + 1):
            applied = store.apply_pull(page(number), resync=False)
            print(f"APPLIED {number} {applied}", flush=True)
    print("DONE", flush=True)


if __name__ == "__main__":
    main()
