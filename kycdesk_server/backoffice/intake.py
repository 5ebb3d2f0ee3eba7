"""A case enters the review queue when a submission is accepted: the queue's row (its
columns denormalised from the revision: reference, applicant, ID numbers, device) and the
search terms, written in the transaction that stores the submission — the queue never
misses a case and never reads a body to show a page.

Search terms are the casefolded, accent-free words of the reference, the name and the ID
numbers, plus each value with every separator removed ("AB 12 34 56 C" -> "ab123456c"),
found by prefix through the (term, case_id) key: the same SQL on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kycdesk_server.backoffice.review_states import ReviewChange, ReviewState, next_state
from kycdesk_server.database import Database
from kycdesk_server.forms import FormCatalogue

_SEPARATORS = re.compile(r"[^\w]+|_")


def fold(text: str) -> str:
    """Casefolded, without accents: how names are compared and sorted."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def terms(values: Iterable[str]) -> set[str]:
    """Every searchable term of these values (words, and each value joined)."""
    found: set[str] = set()
    for value in values:
        folded = fold(value)
        found.update(word for word in _SEPARATORS.split(folded) if word)
        joined = _SEPARATORS.sub("", folded)
        if joined:
            found.add(joined)
    return {term[:64] for term in found}


def query_terms(query: str) -> list[str]:
    """What a search box's words must each begin a term with ("KYC-2024" -> "kyc2024")."""
    return sorted({joined[:64] for word in query.split()
                   if (joined := _SEPARATORS.sub("", fold(word)))})


@dataclass(frozen=True)
class QueueEntry:
    """The queue's view of one accepted revision."""

    case_id: str
    revision: int
    reference: str
    applicant: str
    id_numbers: str
    device_id: str
    received_at: str

    @property
    def terms(self) -> set[str]:
        return terms([self.reference, self.applicant, self.id_numbers])


def entry_for(case_id: str, revision: int, body: Mapping[str, Any], *, device_id: str,
              received_at: str, forms: FormCatalogue) -> QueueEntry:
    """The queue's columns from a submission body (its form definition names the
    applicant's name and ID fields; an unknown form leaves them blank)."""
    form = body.get("form") or {}
    definition = forms.get(body.get("form_id"), body.get("form_version"))
    reference = str(body.get("reference_number") or "")
    name = ids = ""
    if definition is not None:
        name = definition.applicant_name(form) or ""
        ids = definition.id_numbers(form) or ""
        if not reference and definition.summary.reference_field:
            reference = str(form.get(definition.summary.reference_field) or "")
    return QueueEntry(case_id, revision, reference[:100], name[:300], ids[:300], device_id,
                      received_at)


def record_received(db: Database, entry: QueueEntry) -> None:
    """The revision enters the queue as received (the next revision of a case already
    there keeps its assignee). Call inside the transaction that stores the submission."""
    with db.transaction():
        row = db.execute("SELECT state FROM review_cases WHERE case_id = ?",
                         (entry.case_id,)).fetchone()
        current = ReviewState(row[0]) if row else ReviewState.RECEIVED
        state = next_state(current, ReviewChange.RECEIVE)
        assert state is not None  # RECEIVE is allowed from every state
        db.execute(
            "INSERT INTO review_cases(case_id, revision, state, reference, applicant, "
            "applicant_key, id_numbers, device_id, received_at, updated_at) "
            "VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT (case_id) DO UPDATE SET "
            "revision = excluded.revision, state = excluded.state, "
            "reference = excluded.reference, applicant = excluded.applicant, "
            "applicant_key = excluded.applicant_key, id_numbers = excluded.id_numbers, "
            "device_id = excluded.device_id, received_at = excluded.received_at, "
            "updated_at = excluded.updated_at",
            (entry.case_id, entry.revision, state.value, entry.reference, entry.applicant,
             fold(entry.applicant), entry.id_numbers, entry.device_id, entry.received_at,
             entry.received_at))
        db.execute("DELETE FROM review_terms WHERE case_id = ?", (entry.case_id,))
        for term in sorted(entry.terms):
            db.execute("INSERT INTO review_terms(term, case_id) VALUES (?, ?)",
                       (term, entry.case_id))


def backfill(db: Database) -> None:
    """Every case held before the review existed enters the queue (migration 5, with
    the app's own form definitions: a migration runs before a store knows `--forms`)."""
    forms = FormCatalogue()
    rows = db.execute("SELECT case_id, revision, body_json, device_id, accepted_at "
                      "FROM submissions").fetchall()
    for case_id, revision, body, device_id, accepted_at in rows:
        receive(db, case_id, revision, json.loads(body), device_id=device_id,
                accepted_at=accepted_at, forms=forms)


def receive(db: Database, case_id: str, revision: int, body: Mapping[str, Any], *,
            device_id: str, accepted_at: str, forms: FormCatalogue) -> None:
    """The acceptance path's one call (inside its transaction)."""
    record_received(db, entry_for(case_id, revision, body, device_id=device_id,
                                  received_at=accepted_at, forms=forms))
