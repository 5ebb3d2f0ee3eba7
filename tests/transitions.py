"""Status changes for test set-up, through the one transition path (`Transition`)."""

from __future__ import annotations

from kycdesk.core.errors import FailureKind
from kycdesk.core.states import CaseChange, Change
from kycdesk.persistence.commands import Transition
from kycdesk.persistence.store import LocalStore


def submit(store: LocalStore, case_id: str) -> CaseChange:
    change: CaseChange = store.run(Transition(case_id, Change.SUBMIT))
    return change


def fail(store: LocalStore, case_id: str, error: str = "x",
         kind: FailureKind = FailureKind.PERMANENT,
         next_attempt_at: str | None = None) -> CaseChange:
    change: CaseChange = store.run(Transition(case_id, Change.SYNC_FAILED, error=error,
                                              error_kind=kind,
                                              next_attempt_at=next_attempt_at))
    return change


def retry(store: LocalStore, case_id: str) -> CaseChange:
    change: CaseChange = store.run(Transition(case_id, Change.RETRY))
    return change


def reopen(store: LocalStore, case_id: str) -> CaseChange:
    change: CaseChange = store.run(Transition(case_id, Change.REOPEN))
    return change


def mark_synced(store: LocalStore, case_id: str) -> CaseChange:
    revision = store.load_sync_case(case_id).revision
    change: CaseChange = store.run(Transition(
        case_id, Change.SYNCED, revision=revision,
        receipt={"receipt_id": "test", "revision": revision, "server_image_ids": []}))
    return change
