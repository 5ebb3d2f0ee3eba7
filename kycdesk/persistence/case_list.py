"""The case list's queries, built for 100,000 cases on a slow tablet.

They run on the in-memory list index (`list_index.ListIndex`: the personal values are
sealed on disk), caught up with the caller's connection first.

- Keyset paging: a page starts after the last row shown (its sort key and id), so the
  page at row 50,000 costs what the first page costs. No OFFSET.
- Every sort, in either direction, in every view, reads an index in order
  (`schema.LIST_SORT_KEYS_V8`: last saved, reference, applicant, photo count, status,
  due date), and
  stops after one page.
- Counts per view come from the store's `case_view_counts`, kept by triggers in the same
  transaction as the case row: no scan of the table at each refresh.
- Search is substring search over reference, applicant name and ID numbers through a
  trigram FTS5 index (`search`, diacritics and case folded: `list_index.fold`). Each word
  of the search must occur. When few cases match, the page is read from the matches and
  sorted; when many match, the sort index is read in order and the page fills at once.
  Words of one or two characters (too short for trigrams) are matched with LIKE on top;
  a search made only of such words is looked up as typed ("Li O'") when that is three
  characters or more, and a search of one two-letter word ("Ng", "zq") in the index of
  letter pairs (`pairs`: a LIKE over every row cost 120-200 ms when little matched).
"""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import dataclass
from typing import Any

from kycdesk.core.records import CaseSort, CaseSummary
from kycdesk.core.states import CaseView
from kycdesk.persistence.db import Connection
from kycdesk.persistence.list_index import ListIndex, fold, pair_token

# A search with up to this many matches is read from the matches and sorted (cheap);
# beyond it, the sort index is walked and the page fills before the walk gets far.
FEW_MATCHES = 2000
COUNT_CAP = 10_000   # a search's count stops here ("more than 10,000")
# A search of words too short for trigrams is a LIKE over the table: its count stops
# sooner (a scan for 10,000 matches of "Ng" costs 30-50 ms on 100,000 cases).
SHORT_COUNT_CAP = 200
TRIGRAM = 3
NO_DUE_DATE = "9999-12-31"  # schema: sort_due of a case without a due date (listed last)


@dataclass(frozen=True)
class _SortSpec:
    columns: tuple[str, ...]   # the index's order, id last (unique: pages never overlap)
    descending_by_default: bool


_SORTS: dict[CaseSort, _SortSpec] = {
    CaseSort.LAST_SAVED: _SortSpec(("c.sort_saved", "c.idb"), True),
    CaseSort.REFERENCE: _SortSpec(("c.sort_reference", "c.idb"), False),
    CaseSort.APPLICANT: _SortSpec(("c.sort_applicant", "c.idb"), False),
    CaseSort.PHOTOS: _SortSpec(("c.photo_count", "c.idb"), True),
    CaseSort.STATUS: _SortSpec(("c.status", "c.sort_saved", "c.idb"), False),
    CaseSort.DUE_DATE: _SortSpec(("c.sort_due", "c.idb"), False),
}

_COLUMNS = ("c.idb, c.reference_number, c.status, c.last_saved, c.photo_count, c.last_error, "
            "c.last_error_kind, c.next_attempt_at, c.purged_at, c.applicant_name, c.inbox, "
            "c.due_date, c.decision, c.decision_reason")


def _cursor(sort: CaseSort, row: CaseSummary) -> tuple[Any, ...]:
    """The sort key of a row shown, in the index's column order (the id as the index
    keeps it: its 16 bytes, which sort as its text does)."""
    saved = row.last_saved or ""
    case = uuid.UUID(row.id).bytes
    return {
        CaseSort.LAST_SAVED: (saved, case),
        CaseSort.REFERENCE: (row.reference_number or "", case),
        CaseSort.APPLICANT: (row.applicant_name or "", case),
        CaseSort.PHOTOS: (row.photo_count, case),
        CaseSort.STATUS: (row.status, saved, case),
        CaseSort.DUE_DATE: (row.due_date or NO_DUE_DATE, case),
    }[sort]


@dataclass(frozen=True)
class _Search:
    match: str | None          # an FTS5 query over `table`, or None
    likes: tuple[str, ...]     # LIKE patterns for words too short for trigrams
    table: str = "search"      # the trigram index, or `pairs` (one two-letter word)
    # `pairs` only: the LIKE search used instead when many cases hold the pair (it
    # fills a page at once; the pairs' matches would all be gathered first).
    instead: _Search | None = None


def _parse_search(text: str | None) -> _Search | None:
    words = (text or "").split()
    if not words:
        return None
    phrase = fold(" ".join(words))
    if len(words) == 1 and len(phrase) == TRIGRAM - 1:
        return _Search('"' + pair_token(phrase) + '"', (), "pairs",
                       instead=_Search(None, (_like(words[0]),)))
    if all(len(w) < TRIGRAM for w in words) and len(phrase) >= TRIGRAM:
        # "Li O'", "bo l": short words, but the text as typed is long enough for the
        # trigram index (a LIKE over every row would cost 200 ms at 100,000 cases).
        return _Search('"' + phrase.replace('"', '""') + '"', ())
    long_words = [w for w in words if len(w) >= TRIGRAM]
    short = [w for w in words if len(w) < TRIGRAM]
    match = " AND ".join('"' + fold(w).replace('"', '""') + '"' for w in long_words) or None
    return _Search(match, tuple(_like(w) for w in short))


def _like(word: str) -> str:
    return "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


_LIKE_ONE = ("(c.reference_number LIKE ? ESCAPE '\\' OR c.applicant_name LIKE ? ESCAPE '\\' "
             "OR c.id_number LIKE ? ESCAPE '\\')")


def _filters(view: CaseView | None, search: _Search | None, *, by_index: bool
             ) -> tuple[list[str], list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if view is not None:
        clauses.append("c.list_view = ?")
        params.append(CaseView(view).value)
    if search is not None:
        if search.match is not None and by_index:
            clauses.append(f"c.k IN (SELECT rowid FROM {search.table} "
                           f"WHERE {search.table} MATCH ?)")
            params.append(search.match)
        for pattern in search.likes:
            clauses.append(_LIKE_ONE)
            params += [pattern] * 3
    return clauses, params


def _from(search: _Search | None, few: bool) -> tuple[str, list[Any]]:
    """The FROM clause: the matches first (few), or the case table in index order."""
    if search is not None and search.match is not None and few:
        return (f"(SELECT rowid AS k FROM {search.table} WHERE {search.table} MATCH ?) "
                "AS m CROSS JOIN cases c ON c.k = m.k", [search.match])
    return "cases c", []


def _planned(db: sqlite3.Connection, search: _Search | None) -> tuple[_Search | None, bool]:
    """The search to run and whether it has few matches (read from the matches)."""
    few = _few_matches(db, search)
    if search is not None and search.instead is not None and not few:
        return search.instead, False
    return search, few


def _few_matches(db: sqlite3.Connection, search: _Search | None) -> bool:
    if search is None or search.match is None:
        return False
    found = db.execute(f"SELECT count(*) FROM (SELECT 1 FROM {search.table} "
                       f"WHERE {search.table} MATCH ? LIMIT ?)",
                       (search.match, FEW_MATCHES + 1)).fetchone()[0]
    return int(found) <= FEW_MATCHES


def list_cases(index: ListIndex, conn: Connection | None, *, limit: int,
               after: CaseSummary | None = None, view: CaseView | None = None,
               search: str | None = None, sort: CaseSort = CaseSort.LAST_SAVED,
               descending: bool | None = None) -> list[CaseSummary]:
    """One page of the case list: the `limit` rows that follow `after` (a row of the
    previous page, None for the first page) in this sort, view and search. `conn`: the
    caller's connection, whose view of the store the index catches up with first."""
    with index.reading(conn) as db:
        sql, params = page_query(db, limit=limit, after=after, view=view, search=search,
                                 sort=sort, descending=descending)
        rows = db.execute(sql, params).fetchall()
    return [CaseSummary(id=str(uuid.UUID(bytes=r[0])), reference_number=r[1], status=r[2],
                        last_saved=r[3],
                        photo_count=int(r[4]), last_error=r[5], last_error_kind=r[6],
                        next_attempt_at=r[7], purged_at=r[8], applicant_name=r[9],
                        inbox=r[10], due_date=r[11], decision=r[12],
                        decision_reason=r[13])
            for r in rows]


def page_query(db: sqlite3.Connection, *, limit: int, after: CaseSummary | None,
               view: CaseView | None, search: str | None, sort: CaseSort,
               descending: bool | None) -> tuple[str, list[Any]]:
    """The SQL of one page on the index and its parameters (tests check its plan uses
    an index)."""
    spec = _SORTS[CaseSort(sort)]
    down = spec.descending_by_default if descending is None else descending
    parsed, few = _planned(db, _parse_search(search))
    source, params = _from(parsed, few)
    clauses, filter_params = _filters(view, parsed, by_index=not few)
    params += filter_params
    if after is not None:
        key = _cursor(CaseSort(sort), after)
        clauses.append(f"({', '.join(spec.columns)}) {'<' if down else '>'} "
                       f"({', '.join('?' * len(key))})")
        params += list(key)
    where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
    direction = " DESC" if down else ""
    order = ", ".join(column + direction for column in spec.columns)
    return (f"SELECT {_COLUMNS} FROM {source} {where} ORDER BY {order} "
            "LIMIT ?",
            [*params, limit])


def view_counts(conn: Connection) -> dict[CaseView, int]:
    """How many cases each view holds (kept by triggers: no scan)."""
    counts: dict[str, int] = {str(view): int(n) for view, n in
                              conn.query_all("SELECT view, n FROM case_view_counts")}
    return {view: int(counts.get(view.value, 0)) for view in CaseView}


def count_cap(search: str | None) -> int:
    """Where the count of a search stops (`count_cases` returns cap + 1 past it)."""
    parsed = _parse_search(search)
    short = parsed is not None and (parsed.match is None or parsed.instead is not None)
    return SHORT_COUNT_CAP if short else COUNT_CAP


def count_cases(index: ListIndex | None, conn: Connection, view: CaseView | None = None,
                search: str | None = None) -> int:
    """Cases in a view (exact), or matching a search (exact up to `count_cap`, then
    the cap + 1: the list says "more than …"). Without a search the index is not read
    (None will do)."""
    parsed = _parse_search(search)
    if parsed is not None and index is None:
        raise ValueError("a search is counted on the list index")
    if parsed is None or index is None:
        counts = view_counts(conn)
        return counts[CaseView(view)] if view is not None else \
            int(conn.scalar("SELECT count(*) FROM cases"))
    with index.reading(conn) as db:
        parsed, few = _planned(db, parsed)
        source, params = _from(parsed, few)
        clauses, filter_params = _filters(view, parsed, by_index=not few)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        found = db.execute(f"SELECT count(*) FROM (SELECT 1 FROM {source} {where} LIMIT ?)",
                           (*params, *filter_params, count_cap(search) + 1)).fetchone()[0]
    return int(found)
