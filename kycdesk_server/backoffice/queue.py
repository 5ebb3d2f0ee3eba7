"""The review queue's query: filters, prefix search and keyset paging over the
denormalised `review_cases` rows (no OFFSET: page 2,000 costs what page 1 costs). A page
ends at a key (its last row's sort value and case id); the next page starts after it.
Every key is a valid place to start, so a hand-made one is never an error."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from kycdesk_server.backoffice.intake import query_terms
from kycdesk_server.backoffice.review_states import ReviewState
from kycdesk_server.database import Database

PAGE_MAX = 200
UNASSIGNED = "none"   # the assignee filter's value for cases nobody has taken


class QueueSort(StrEnum):
    RECEIVED = "received"
    REFERENCE = "reference"
    APPLICANT = "applicant"


_SORT_COLUMN = {QueueSort.RECEIVED: "received_at", QueueSort.REFERENCE: "reference",
                QueueSort.APPLICANT: "applicant_key"}


@dataclass(frozen=True)
class QueueKey:
    """Where a page ended: the next one starts after (sort value, case id)."""

    after: str
    after_id: str


@dataclass(frozen=True)
class QueueQuery:
    state: ReviewState | None = None
    assignee: str | None = None        # an account id, UNASSIGNED, or None for anyone
    search: str = ""
    sort: QueueSort = QueueSort.RECEIVED
    descending: bool = False
    start_after: QueueKey | None = None   # the previous page's `next`
    limit: int = 50


@dataclass(frozen=True)
class QueueRow:
    case_id: str
    reference: str
    applicant: str
    device_id: str
    device_name: str
    received_at: str
    revision: int
    state: ReviewState
    assignee_id: str | None
    assignee_name: str | None


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    next: QueueKey | None   # None: this is the last page


_TERM = "c.case_id IN (SELECT case_id FROM review_terms WHERE term >= ? AND term < ?)"


def _prefix_end(prefix: str) -> str:
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def read_queue(db: Database, query: QueueQuery) -> QueuePage:
    column = _SORT_COLUMN[query.sort]
    where: list[str] = []
    params: list[Any] = []
    if query.state is not None:
        where.append("c.state = ?")
        params.append(query.state.value)
    if query.assignee == UNASSIGNED:
        where.append("c.assignee_id IS NULL")
    elif query.assignee is not None:
        where.append("c.assignee_id = ?")
        params.append(query.assignee)
    words = query_terms(query.search)[:8]
    if words:
        # Every word begins a term, or the whole query does with its spaces removed
        # (an ID number typed as "AB 1234").
        whole = "".join(query.search.split()) if len(words) > 1 else None
        alternatives = [" AND ".join([_TERM] * len(words))]
        params += [bound for word in words for bound in (word, _prefix_end(word))]
        for joined in query_terms(whole or ""):
            alternatives.append(_TERM)
            params += [joined, _prefix_end(joined)]
        where.append("(" + " OR ".join(f"({a})" for a in alternatives) + ")")
    direction, beyond = ("DESC", "<") if query.descending else ("ASC", ">")
    if query.start_after is not None:
        # A row value: both engines seek the (column, case_id) index to it.
        where.append(f"(c.{column}, c.case_id) {beyond} (?, ?)")
        params += [query.start_after.after, query.start_after.after_id]
    limit = max(1, min(query.limit, PAGE_MAX))
    sql = ("SELECT c.case_id, c.reference, c.applicant, c.device_id, "
           "COALESCE(d.name, ''), c.received_at, c.revision, c.state, c.assignee_id, "
           f"c.assignee_name, c.{column} FROM review_cases c "
           "LEFT JOIN devices d ON d.id = c.device_id"
           + (" WHERE " + " AND ".join(where) if where else "")
           + f" ORDER BY c.{column} {direction}, c.case_id {direction} LIMIT ?")
    rows = db.execute(sql, (*params, limit + 1)).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    page = [QueueRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], ReviewState(r[7]), r[8], r[9])
            for r in rows]
    return QueuePage(page, QueueKey(rows[-1][10], rows[-1][0]) if more else None)
