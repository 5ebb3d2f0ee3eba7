"""Case states and the one table of how a case moves between them.

Every status change goes through `persistence.cases.transition` with one of the
`Change`s below; nothing else writes `cases.status`. The table says from which states a
change is allowed and where it leads; what else a change writes (revision, attempts,
error, receipt) is in `transition` beside it, in the same transaction as the audit event.

Two-way sync (issue 17) adds one change and two ends of a case's life on this device:
- RETURNED: a reviewer returned the revision this device holds SYNCED; it is a DRAFT
  again (`inbox = returned`), its next submission the next revision.
- An `assigned` (or handed-over) case is *created* as a DRAFT (`inbox = assigned`): a
  creation, like `CreateCase`, announced with `CaseChange(change=None)`.
- A case handed to another device is *removed* once its unsent work was sent
  (`CaseChange(removed=True)`), like a discarded draft.
Submitting clears the inbox: a case in "Assigned to you" or "Returned to you" moves to
"Waiting to sync".
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from kycdesk.core.errors import FailureKind


class CaseStatus(StrEnum):
    DRAFT = "DRAFT"    # being edited
    READY = "READY"    # submitted by the verifier: validated, locked, queued for sync
    FAILED = "FAILED"  # a sync attempt failed (transient: retried; else waits for a person)
    SYNCED = "SYNCED"  # the server's receipt is stored; read-only


class Change(StrEnum):
    SUBMIT = "submit"            # the verifier submits a valid draft
    RETRY = "retry"              # the verifier asks to send a failed case again
    REOPEN = "reopen"            # back to draft; the next submit is a new revision
    SYNC_FAILED = "sync_failed"  # an attempt failed (records reason, kind, next attempt)
    SYNCED = "synced"            # the server confirmed the revision that was sent
    RETURNED = "returned"        # the office returned the synced revision with comments


@dataclass(frozen=True)
class Rule:
    sources: frozenset[CaseStatus]
    target: CaseStatus


TRANSITIONS: dict[Change, Rule] = {
    Change.SUBMIT: Rule(frozenset({CaseStatus.DRAFT}), CaseStatus.READY),
    Change.RETRY: Rule(frozenset({CaseStatus.FAILED}), CaseStatus.READY),
    Change.REOPEN: Rule(frozenset({CaseStatus.READY, CaseStatus.FAILED}), CaseStatus.DRAFT),
    Change.SYNC_FAILED: Rule(frozenset({CaseStatus.READY, CaseStatus.FAILED}),
                             CaseStatus.FAILED),
    Change.SYNCED: Rule(frozenset({CaseStatus.READY, CaseStatus.FAILED}), CaseStatus.SYNCED),
    Change.RETURNED: Rule(frozenset({CaseStatus.SYNCED}), CaseStatus.DRAFT),
}


class Inbox(StrEnum):
    """Why a draft is in the verifier's inbox (cleared when it is submitted)."""

    ASSIGNED = "assigned"   # the office created it for this device
    RETURNED = "returned"   # a reviewer returned it with comments

def allowed(change: Change, status: str) -> bool:
    """Whether the table lets a case in `status` take `change` (what the editor offers)."""
    return status in TRANSITIONS[change].sources


def is_editable(status: str) -> bool:
    """Only drafts take edits and photo changes."""
    return status == CaseStatus.DRAFT


# The one kind of failed attempt the app retries by itself (backoff); any other kind
# waits for a person. The due-cases query and the list's views are derived from it.
RETRIED_KIND = FailureKind.TRANSIENT


class CaseView(StrEnum):
    """How a person sorts cases: what they must still do, what is on its way, what is done.
    A failed attempt the app retries by itself is *waiting*, not *needs action*."""

    ASSIGNED = "assigned"          # DRAFT the office assigned to this device
    RETURNED = "returned"          # DRAFT a reviewer returned with comments
    DRAFTS = "drafts"              # any other DRAFT
    WAITING = "waiting"            # READY, or FAILED with a transient error (retried)
    NEEDS_ACTION = "needs_action"  # FAILED with a permanent or authentication error
    SYNCED = "synced"              # SYNCED


def case_view(status: str, error_kind: str | None, inbox: str | None = None) -> CaseView:
    """The view a case is listed in (the store keeps it as a generated column built from
    the same definitions, `persistence.schema._VIEW_OF_ROW_V8`; a test holds them equal)."""
    if status == CaseStatus.DRAFT:
        if inbox == Inbox.ASSIGNED:
            return CaseView.ASSIGNED
        if inbox == Inbox.RETURNED:
            return CaseView.RETURNED
        return CaseView.DRAFTS
    if status == CaseStatus.SYNCED:
        return CaseView.SYNCED
    if status == CaseStatus.FAILED and needs_person(error_kind):
        return CaseView.NEEDS_ACTION
    return CaseView.WAITING


VIEW_LABELS: dict[CaseView, str] = {
    CaseView.ASSIGNED: "Assigned to you",
    CaseView.RETURNED: "Returned to you",
    CaseView.DRAFTS: "Drafts",
    CaseView.WAITING: "Waiting to sync",
    CaseView.NEEDS_ACTION: "Needs action",
    CaseView.SYNCED: "Synced",
}


@dataclass(frozen=True)
class CaseChange:
    """What every view hears after a case was created or changed status (one signal,
    `caseChanged`, from the persistence writer)."""

    case_id: str
    status: CaseStatus
    revision: int
    change: Change | None = None   # None: the case was created
    last_error: str | None = None
    error_kind: str | None = None
    next_attempt_at: str | None = None
    removed: bool = False  # a discarded draft: gone from this device
    purged: bool = False   # a synced case past retention: only its stub row remains
    # Answers the office changed in the store (an office_edit taken without a conflict:
    # nobody here had changed them): an open draft shows them, so that its next save,
    # which writes the whole form, keeps them. (key, value) pairs.
    answers: tuple[tuple[str, Any], ...] = ()


# Colours of the status badges (list, editor header, sync panel): one definition.
AMBER = "#9a5b00"  # dark enough for white text
STATUS_COLOURS: dict[str, str] = {
    CaseStatus.DRAFT: "#5b6770",
    CaseStatus.READY: "#1d5fbf",
    CaseStatus.SYNCED: "#1e7b34",
    CaseStatus.FAILED: "#b3261e",
}


@dataclass(frozen=True)
class Badge:
    """How a case's state is shown: one word, one colour, one meaning."""

    label: str
    colour: str
    needs_action: bool = False


def badge(status: str, error_kind: str | None) -> Badge:
    """A failed attempt the app retries by itself is amber, *retrying*; red is only for
    a case a person must act on (the server refused it, or the device token)."""
    if status == CaseStatus.FAILED:
        if needs_person(error_kind):
            return Badge("NEEDS ACTION", STATUS_COLOURS[CaseStatus.FAILED], True)
        return Badge("RETRYING", AMBER)
    return Badge(str(status), STATUS_COLOURS.get(status, STATUS_COLOURS[CaseStatus.DRAFT]))


def needs_person(error_kind: str | None) -> bool:
    """A failure no retry will mend (the server refused the case, or the device token)."""
    return error_kind is not None and error_kind != RETRIED_KIND
