"""How the office's work on a case is said to a verifier: due dates, decisions, handovers."""

from __future__ import annotations

from datetime import date

from kycdesk.core.records import CaseDecision, TwoWayState
from kycdesk.models.two_way_text import decision_text, due_text, handover_text, value_text

TODAY = date(2026, 12, 8)


def test_due_dates_say_overdue_in_words_not_only_in_a_colour() -> None:
    assert due_text("2026-12-06", TODAY) == "Overdue by 2 days (was due Sun 6 Dec)"
    assert due_text("2026-12-07", TODAY) == "Overdue by 1 day (was due Mon 7 Dec)"
    assert due_text("2026-12-08", TODAY) == "Due today (Tue 8 Dec)"
    assert due_text("2026-12-09", TODAY) == "Due tomorrow (Wed 9 Dec)"
    assert due_text("2027-01-04", TODAY) == "Due Mon 4 Jan 2027 (in 27 days)"
    assert due_text(None, TODAY) == ""
    assert due_text("next week", TODAY) == "Due next week"  # not a date: shown as sent


def test_a_decision_names_who_and_the_reason() -> None:
    rejected = CaseDecision(revision=2, decision="rejected", reason_code="id_mismatch",
                            reason_label="ID does not match the applicant", note="",
                            by="R. Patel", at="2026-12-08T09:00:00.000Z")
    text = decision_text(rejected)
    assert text.startswith("Rejected by the office (R. Patel, 8 Dec ")
    assert text.endswith("Reason: ID does not match the applicant.")
    approved = CaseDecision(revision=2, decision="approved", reason_code=None,
                            reason_label=None, note="All good", by="R. Patel",
                            at="2026-12-08T09:00:00.000Z")
    assert decision_text(approved).startswith("Approved by the office (R. Patel")
    assert decision_text(approved).endswith("Note: All good")


def test_each_handover_state_is_one_plain_sentence() -> None:
    def state(handover: str | None, note: str = "") -> TwoWayState:
        return TwoWayState(case_id="c", inbox=None, assignment=None, comments=(),
                           decision=None, conflicts=(), handover=handover,
                           handover_note=note)

    assert handover_text(state(None)) == ""
    for kind in ("requested", "handing_out", "refused"):
        text = handover_text(state(kind))
        assert text.count(".") == 1 and text.endswith("."), text
        assert "list" not in text
    assert handover_text(state("refused", "Ask Sam.")).endswith("The office said: Ask Sam.")


def test_values_read_as_words() -> None:
    assert value_text(None) == "(empty)"
    assert value_text(True) == "Yes"
    assert value_text(["a", "b"]) == "a, b"
    assert value_text({"strokes": [], "png": "x"}) == "(a signature)"
    assert value_text("Okafor") == "Okafor"
