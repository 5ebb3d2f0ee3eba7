"""Review states and the one table of how a case moves between them (like the app's
kycdesk/core/states.py): every change of `review_cases.state` goes through `next_state`."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ReviewState(StrEnum):
    RECEIVED = "received"      # a revision arrived; nobody has taken it yet
    IN_REVIEW = "in_review"    # a reviewer has taken it
    APPROVED = "approved"
    REJECTED = "rejected"
    RETURNED = "returned"      # sent back to the verifier with comments


class ReviewChange(StrEnum):
    RECEIVE = "receive"    # a submission was accepted (the first, or the next revision)
    ASSIGN = "assign"      # a reviewer takes it, or a supervisor gives it to one
    APPROVE = "approve"
    REJECT = "reject"
    RETURN = "return"


DECISIONS = (ReviewChange.APPROVE, ReviewChange.REJECT, ReviewChange.RETURN)
OPEN = frozenset({ReviewState.RECEIVED, ReviewState.IN_REVIEW})
ANY = frozenset(ReviewState)


@dataclass(frozen=True)
class Rule:
    sources: frozenset[ReviewState]
    target: ReviewState


# A new revision always comes back as received (after a return that is the point; after
# a decision it is a new fact that needs a new decision).
TRANSITIONS: dict[ReviewChange, Rule] = {
    ReviewChange.RECEIVE: Rule(ANY, ReviewState.RECEIVED),
    ReviewChange.ASSIGN: Rule(OPEN, ReviewState.IN_REVIEW),
    ReviewChange.APPROVE: Rule(OPEN, ReviewState.APPROVED),
    ReviewChange.REJECT: Rule(OPEN, ReviewState.REJECTED),
    ReviewChange.RETURN: Rule(OPEN, ReviewState.RETURNED),
}

LABELS: dict[ReviewState, str] = {
    ReviewState.RECEIVED: "Received",
    ReviewState.IN_REVIEW: "In review",
    ReviewState.APPROVED: "Approved",
    ReviewState.REJECTED: "Rejected",
    ReviewState.RETURNED: "Returned",
}


def next_state(current: ReviewState, change: ReviewChange) -> ReviewState | None:
    """Where `change` leads from `current`, or None if it is not allowed there."""
    rule = TRANSITIONS[change]
    return rule.target if current in rule.sources else None
