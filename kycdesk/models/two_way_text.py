"""What the office sent a case — its assignment, a reviewer's comments, a decision, a
handover, a conflict — in the words a verifier reads. Plain functions (no widgets), so
the list, the editor and the tests say it the same way."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from kycdesk.core.clock import parse_instant_or_none
from kycdesk.core.records import CaseDecision, Conflict, ReviewComment, TwoWayState

INBOX_LABELS = {"assigned": "Assigned to you", "returned": "Returned to you"}
PREFILLED = "Prefilled by the office"
CONFLICT_BLOCKS_SUBMIT = ("Not submitted: the office also changed {what}. Choose the "
                          "value to keep, at the top of the case.")


def due_text(due: str | None, today: date | None = None) -> str:
    """"Due tomorrow", "Overdue by 2 days (was due Tue 8 Dec)": overdue is said in words,
    not only in a colour."""
    if not due:
        return ""
    try:
        day = date.fromisoformat(due[:10])
    except ValueError:
        return f"Due {due}"
    days = (day - (today or date.today())).days
    shown = f"{day:%a} {day.day} {day:%b}" + ("" if day.year == (today or date.today()).year
                                               else f" {day.year}")
    if days < 0:
        late = -days
        return f"Overdue by {late} day{'s' if late != 1 else ''} (was due {shown})"
    if days == 0:
        return f"Due today ({shown})"
    if days == 1:
        return f"Due tomorrow ({shown})"
    return f"Due {shown} (in {days} days)"


def is_overdue(due: str | None, today: date | None = None) -> bool:
    try:
        return bool(due) and date.fromisoformat((due or "")[:10]) < (today or date.today())
    except ValueError:
        return False


def when_text(at: str | None) -> str:
    """An instant from the store or the office, in local time ("8 Dec 14:05")."""
    moment = parse_instant_or_none(at)
    if moment is None:
        return at or ""
    local = moment.astimezone()
    return f"{local.day} {local:%b %H:%M}"


def value_text(value: Any) -> str:
    """An answer as a person reads it (a photo or a signature is not dumped as data)."""
    if value is None or value == "":
        return "(empty)"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return ", ".join(value_text(v) for v in value) or "(empty)"
    if isinstance(value, dict):
        if "strokes" in value or "png" in value:
            return "(a signature)"
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def decision_text(decision: CaseDecision) -> str:
    by = f"{decision.by}, {when_text(decision.at)}"
    note = f" Note: {decision.note}" if decision.note else ""
    if decision.decision == "approved":
        return f"Approved by the office ({by}).{note}"
    if decision.decision == "rejected":
        reason = decision.reason_label or decision.reason_code or "no reason given"
        return f"Rejected by the office ({by}). Reason: {reason}.{note}"
    return f"Returned to you by the office ({by}) to be corrected and sent again.{note}"


def handover_text(state: TwoWayState) -> str:
    note = f" The office said: {state.handover_note}" if state.handover_note else ""
    match state.handover:
        case "requested":
            return ("Waiting for the office: this case belongs to another device, and the "
                    "office has been asked to hand it over to this one." + note)
        case "handing_out":
            return ("The office has moved this case to another device: anything not yet "
                    "sent goes to the server first, then the case is removed from this "
                    "device." + note)
        case "refused":
            return ("The office did not hand this case over to this device; it stays with "
                    "the other device and cannot be sent from here." + note)
    return ""


def assignment_text(state: TwoWayState) -> str:
    assignment = state.assignment
    if assignment is None:
        return ""
    parts = [f"Assigned to you by {assignment.assigned_by or 'the office'} on "
             f"{when_text(assignment.assigned_at)}."]
    if assignment.due_date:
        parts.append(due_text(assignment.due_date) + ".")
    if assignment.note:
        parts.append(f"Note: {assignment.note}")
    return " ".join(parts)


def comment_text(comment: ReviewComment) -> str:
    return f"{comment.text} — {comment.author or 'reviewer'}, {when_text(comment.at)}"


def conflict_subject(conflict: Conflict, field_label: str | None) -> str:
    if conflict.kind == "photo":
        return f"the photo {field_label or ''}".rstrip()
    if conflict.kind == "status":
        return "the case's status"
    return f"“{field_label or conflict.field_key}”"


def conflict_value_text(conflict: Conflict, side: str) -> str:
    """One side of a conflict in words: an answer's value, which photo, which state."""
    value = conflict.server_value if side == "server" else conflict.local_value
    if conflict.kind == "photo":
        return "the photo the office added" if side == "server" else \
            "the photo taken on this device"
    if conflict.kind == "status":
        if side == "server":
            return "returned by the reviewer, to be corrected and sent again"
        revision = value.get("revision") if isinstance(value, dict) else None
        return "your newer changes on this device" + (
            f" (revision {revision})" if revision else "")
    shown = value_text(value)
    return shown if len(shown) <= 80 else shown[:79] + "…"
