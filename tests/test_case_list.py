"""The case list at scale: keyset pages in every sort and view, substring search over
reference, applicant name and ID numbers, counts and photo counts kept by triggers."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from kycdesk.core.errors import FailureKind
from kycdesk.core.records import CaseSort, CaseSummary
from kycdesk.core.states import CaseView
from kycdesk.persistence.commands import (
    AddImage,
    CreateCase,
    DeleteImage,
    DiscardDraft,
    PurgeSynced,
    SaveForm,
)
from kycdesk.persistence.store import LocalStore
from tests import transitions

NAMES = ["Ana García", "José Núñez", "Zoë Ødegaard", "ana garcia", "Bo Li", "O'Brien 100%",
         None, "Mary-Ann Smith", "Søren Kierkegaard", "Yusuf Adebayo"]


def _populate(store: LocalStore, count: int) -> list[str]:
    rng = random.Random(11)
    ids = []
    for i in range(count):
        case_id = store.run(CreateCase(reference_number=None if i % 9 == 0 else
                                       f"KYC-{rng.randrange(1000, 1100)}"))
        name = NAMES[i % len(NAMES)]
        store.run(SaveForm(case_id, {"n": i}, applicant_name=name,
                           id_number=f"AB{rng.randrange(10**6, 10**7)}"))
        ids.append(case_id)
    # Ties on every sort key: pages must still neither repeat nor skip a row.
    store.conn.execute("UPDATE cases SET last_saved = '2026-05-01T00:00:00Z' "
                       "WHERE rowid % 4 = 0")
    store.conn.execute("UPDATE cases SET photo_count = rowid % 3")
    store.conn.execute("UPDATE cases SET due_date = '2026-06-0' || (rowid % 9 + 1) "
                       "WHERE rowid % 5 <> 0")  # some due, some not (listed last)
    for case_id in ids[:count // 3]:
        transitions.submit(store, case_id)
    for case_id in ids[:count // 6]:
        transitions.fail(store, case_id, kind=FailureKind.TRANSIENT if
                         rng.random() < 0.5 else FailureKind.PERMANENT)
    return ids


def _key(sort: CaseSort, case: CaseSummary) -> tuple[object, ...]:
    saved = case.last_saved or ""
    return {
        CaseSort.LAST_SAVED: (saved, case.id),
        CaseSort.REFERENCE: ((case.reference_number or "").lower(), case.id),
        CaseSort.APPLICANT: ((case.applicant_name or "").lower(), case.id),
        CaseSort.PHOTOS: (case.photo_count, case.id),
        CaseSort.STATUS: (case.status, saved, case.id),
        CaseSort.DUE_DATE: (case.due_date or "9999-12-31", case.id),
    }[sort]


def _all_pages(store: LocalStore, page: int, **query: object) -> list[CaseSummary]:
    rows: list[CaseSummary] = []
    while batch := store.list_cases(limit=page, after=rows[-1] if rows else None,
                                    **query):  # type: ignore[arg-type]
        assert len(batch) <= page
        rows += batch
    return rows


@pytest.mark.parametrize("sort", list(CaseSort))
def test_keyset_pages_follow_every_sort_both_ways_in_every_view(
        store: LocalStore, sort: CaseSort) -> None:
    _populate(store, 70)
    everything = store.list_cases(limit=500)
    assert len(everything) == 70
    for view in (None, *CaseView):
        members = [c for c in everything if view is None or
                   store.conn.scalar("SELECT list_view FROM cases WHERE id = ?",
                                     (c.id,)) == view.value]
        for descending in (False, True):
            expected = sorted(members, key=lambda c: _key(sort, c), reverse=descending)
            paged = _all_pages(store, 7, view=view, sort=sort, descending=descending)
            assert [c.id for c in paged] == [c.id for c in expected], (view, descending)


def _found(store: LocalStore, text: str) -> set[str | None]:
    return {c.applicant_name for c in _all_pages(store, 50, search=text)}


def test_search_finds_substrings_of_reference_name_and_id_number(store: LocalStore) -> None:
    ana = store.run(CreateCase(reference_number="KYC-20261126-ABC"))
    store.run(SaveForm(ana, {}, applicant_name="Ana García", id_number="X1234567"))
    jose = store.run(CreateCase(reference_number="KYC-20261126-DEF"))
    store.run(SaveForm(jose, {}, applicant_name="José Núñez", id_number="P7654321 QQ123"))
    other = store.run(CreateCase(reference_number="OTHER-1"))
    store.run(SaveForm(other, {}, applicant_name="Bo Li", id_number="Z999"))

    assert _found(store, "arcí") == {"Ana García"}          # the middle of a word
    assert _found(store, "ARCIA") == {"Ana García"}         # case and accents ignored
    assert _found(store, "jose nunez") == {"José Núñez"}    # every word must occur
    assert _found(store, "núñez ana") == set()
    assert _found(store, "4567") == {"Ana García"}          # ID number
    assert _found(store, "QQ12") == {"José Núñez"}          # the second ID number
    assert _found(store, "20261126") == {"Ana García", "José Núñez"}  # reference
    assert _found(store, "Li") == {"Bo Li"}                 # too short for trigrams
    assert _found(store, "bo l") == {"Bo Li"}
    assert _found(store, '"; DROP') == set()                # FTS syntax is plain text
    assert store.count_cases(search="20261126") == 2
    assert store.count_cases(view=CaseView.DRAFTS, search="20261126") == 2
    assert store.count_cases(view=CaseView.SYNCED, search="20261126") == 0


def test_search_with_many_matches_pages_through_all_of_them(store: LocalStore) -> None:
    from kycdesk.persistence import case_list

    for i in range(40):
        case_id = store.run(CreateCase(reference_number=f"KYC-{i:04d}"))
        store.run(SaveForm(case_id, {}, applicant_name=f"Person {i}"))
    few = case_list.FEW_MATCHES
    try:  # both strategies (read the matches; walk the sort index) give the same pages
        case_list.FEW_MATCHES = 1000
        by_matches = [c.id for c in _all_pages(store, 6, search="KYC",
                                               sort=CaseSort.REFERENCE)]
        case_list.FEW_MATCHES = 5
        by_index = [c.id for c in _all_pages(store, 6, search="KYC",
                                             sort=CaseSort.REFERENCE)]
    finally:
        case_list.FEW_MATCHES = few
    assert len(by_matches) == 40 and by_matches == by_index


def test_renamed_and_removed_cases_leave_the_search(store: LocalStore, jpeg: Path) -> None:
    case_id = store.run(CreateCase(reference_number="R-1"))
    store.run(SaveForm(case_id, {}, applicant_name="Old Name", id_number="ID-OLD"))
    store.run(SaveForm(case_id, {}, applicant_name="New Name", id_number="ID-NEW"))
    assert _found(store, "old") == set() and _found(store, "new name") == {"New Name"}
    assert _found(store, "ID-OLD") == set()
    store.run(DiscardDraft(case_id))
    assert _found(store, "new name") == set()

    synced = store.run(CreateCase(reference_number="R-2"))
    store.run(SaveForm(synced, {}, applicant_name="Kept Until Purge", id_number="ZZ77"))
    transitions.submit(store, synced)
    transitions.mark_synced(store, synced)
    assert _found(store, "until purge") == {"Kept Until Purge"}
    store.run(PurgeSynced(synced))
    assert _all_pages(store, 10, search="until purge") == []  # personal data gone
    assert _all_pages(store, 10, search="ZZ77") == []
    assert [c.reference_number for c in _all_pages(store, 10, search="R-2")] == ["R-2"]


def test_view_counts_and_photo_counts_follow_every_change(store: LocalStore,
                                                         jpeg: Path) -> None:
    ids = _populate(store, 30)

    def actual() -> dict[CaseView, int]:
        rows = store.conn.query_all("SELECT list_view, count(*) FROM cases GROUP BY 1")
        counted = {view: int(n) for view, n in rows}
        return {view: counted.get(view.value, 0) for view in CaseView}

    assert store.view_counts() == actual()
    transitions.retry(store, ids[0]) if store.case_status(ids[0]).value == "FAILED" else None
    store.run(DiscardDraft(ids[-1]))
    store.conn.execute("UPDATE cases SET photo_count = 0")  # undo the set-up's fakes
    image = store.run(AddImage(ids[-2], jpeg))
    store.run(AddImage(ids[-2], jpeg))
    assert store.view_counts() == actual()
    assert sum(store.view_counts().values()) == store.count_cases() == 29
    counts = {c.id: c.photo_count for c in store.list_cases(limit=100)}
    assert counts[ids[-2]] == 2
    store.run(DeleteImage(ids[-2], image.id))
    assert {c.id: c.photo_count for c in store.list_cases(limit=100)}[ids[-2]] == 1
    by_photos = store.list_cases(limit=1, sort=CaseSort.PHOTOS)
    assert by_photos[0].id == ids[-2]


def test_a_search_too_short_for_trigrams_counts_only_so_far(
        store: LocalStore, monkeypatch: pytest.MonkeyPatch) -> None:
    from kycdesk.persistence import case_list

    for i in range(5):
        case_id = store.run(CreateCase(reference_number=f"R-{i}"))
        store.run(SaveForm(case_id, {}, applicant_name=f"Bo Li {i}"))
    monkeypatch.setattr(case_list, "SHORT_COUNT_CAP", 2)
    assert case_list.count_cap("Li") == 2 and case_list.count_cap("Bo Li") == case_list.COUNT_CAP
    assert case_list.count_cap("Li 1234") == case_list.COUNT_CAP
    assert store.count_cases(search="Li") == 3           # the cap + 1: "more than 2"
    assert len(_all_pages(store, 2, search="Li")) == 5   # the pages still hold them all


def test_short_words_typed_together_use_the_index(store: LocalStore) -> None:
    from kycdesk.persistence import case_list

    case_id = store.run(CreateCase(reference_number="R-1"))
    store.run(SaveForm(case_id, {}, applicant_name="Li O'Brien"))
    other = store.run(CreateCase(reference_number="R-2"))
    store.run(SaveForm(other, {}, applicant_name="O'Neill Li"))
    assert _found(store, "Li O'") == {"Li O'Brien"}   # as typed, in this order
    assert case_list.count_cap("Li O'") == case_list.COUNT_CAP  # the index, not a scan
    with store.list_index.reading(store.conn) as db:
        sql, params = case_list.page_query(db, limit=10, after=None, view=None,
                                           search="Li O'", sort=CaseSort.LAST_SAVED,
                                           descending=None)
    assert "MATCH" in sql and not any("%" in str(p) for p in params)


def _plan(store: LocalStore, text: str) -> str:
    from kycdesk.persistence import case_list

    with store.list_index.reading(store.conn) as db:
        sql, _params = case_list.page_query(db, limit=10, after=None, view=None, search=text,
                                            sort=CaseSort.LAST_SAVED, descending=None)
    return sql


def test_a_two_letter_search_that_matches_little_reads_the_index_of_letter_pairs(
        store: LocalStore) -> None:
    """"zq" at 100,000 cases was a LIKE over every row (120-200 ms): one word of two
    letters is looked up in the pairs index, folded like every search ("ng" finds
    "Ñguyen"), in the reference, the name and the ID number, and kept current."""
    named = {}
    for name, reference in (("Ñguyen Thi", "R-1"), ("Ana Ng", "R-2"), ("Bo Li", "QX-7")):
        named[name] = store.run(CreateCase(reference_number=reference))
        store.run(SaveForm(named[name], {}, applicant_name=name))
    assert _found(store, "ng") == {"Ñguyen Thi", "Ana Ng"}
    assert _found(store, "NG") == {"Ñguyen Thi", "Ana Ng"}
    assert _found(store, "qx") == {"Bo Li"}                  # in the reference
    assert _found(store, "zq") == set() and store.count_cases(search="zq") == 0
    assert "pairs MATCH" in _plan(store, "zq") and "LIKE" not in _plan(store, "zq")
    store.run(SaveForm(named["Ana Ng"], {}, applicant_name="Ana Kowalska"))
    assert _found(store, "ng") == {"Ñguyen Thi"}             # the edit reached the index
    assert _found(store, "ka") == {"Ana Kowalska"}


def test_a_two_letter_search_that_matches_many_walks_the_list_in_order(
        store: LocalStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """When many cases hold the pair, the list's own order is walked with a LIKE (a
    page fills at once) instead of gathering every match first."""
    from kycdesk.persistence import case_list

    for i in range(6):
        case_id = store.run(CreateCase(reference_number=f"R-{i}"))
        store.run(SaveForm(case_id, {}, applicant_name=f"Anna Lee {i}"))
    monkeypatch.setattr(case_list, "FEW_MATCHES", 3)
    assert "LIKE" in _plan(store, "an") and "pairs" not in _plan(store, "an")
    assert len(_all_pages(store, 4, search="an")) == 6
    assert case_list.count_cap("an") == case_list.SHORT_COUNT_CAP
