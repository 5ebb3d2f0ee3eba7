"""The review queue's query: filters, prefix search and keyset paging over the
denormalised `review_cases` rows (no OFFSET: page 2,000 costs what page 1 costs)."""

from __future__ import annotations

import base64
import binascii
import json
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


class BadCursorError(ValueError):
    pass


@dataclass(frozen=True)
class QueueQuery:
    state: ReviewState | None = None
    assignee: str | None = None        # an account id, UNASSIGNED, or None for anyone
    search: str = ""
    sort: QueueSort = QueueSort.RECEIVED
    descending: bool = False
    cursor: str | None = None          # from the previous page's `next_cursor`
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
    next_cursor: str | None


def encode_cursor(sort_value: str, case_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([sort_value, case_id]).encode()).decode()


def decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise BadCursorError("the page cursor is not one this server gave") from exc
    if (not isinstance(value, list) or len(value) != 2
            or not all(isinstance(part, str) for part in value)):
        raise BadCursorError("the page cursor is not one this server gave")
    return value[0], value[1]


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
    if query.cursor:
        value, case_id = decode_cursor(query.cursor)
        # A row value: both engines seek the (column, case_id) index to it.
        where.append(f"(c.{column}, c.case_id) {beyond} (?, ?)")
        params += [value, case_id]
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
    next_cursor = encode_cursor(rows[-1][10], rows[-1][0]) if more else None
    return QueuePage(page, next_cursor)
