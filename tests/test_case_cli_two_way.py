"""`kycdesk case list --status assigned|returned`, `case show --json` with what the office
said, and `case resolve`, on a real store filled by pull pages as the server sends them."""

from __future__ import annotations

import json

import pytest

from kycdesk.case_cli import LIST_VIEWS
from kycdesk.core.states import CaseView
from kycdesk.paths import DataPaths
from kycdesk.persistence.commands import AppendEdit, ApplyPull, CreateCase, SaveForm
from kycdesk.persistence.store import LocalStore
from tests import transitions
from tests.pull_pages import Feed, assigned, new_case_id
from tests.tablets import (
    vault_for,
    verifier_paths,  # noqa: F401  (the `paths` fixture)
)
from tests.test_case_cli import case

Capture = pytest.CaptureFixture[str]


def test_the_lists_views_are_the_cores() -> None:
    assert sorted(LIST_VIEWS) == sorted(v.value for v in CaseView)


def test_assigned_and_returned_cases_from_the_command_line(
        qapp: object, paths: DataPaths, capsys: Capture) -> None:
    feed = Feed()
    soon, later, returned = new_case_id(), new_case_id(), None
    with LocalStore(paths, vault=vault_for(paths)) as store:
        returned = store.run(CreateCase(reference_number="KYC-R"))
        store.run(SaveForm(returned, {"applicant.first_name": "Ruth"}))
        transitions.submit(store, returned)
        transitions.mark_synced(store, returned)
        revision = store.load_sync_case(returned).revision
        store.run(ApplyPull(feed.page(
            assigned(feed, later, due_date="2026-07-01", reference_number="KYC-LATER"),
            assigned(feed, soon, due_date="2026-06-05", reference_number="KYC-SOON"),
            feed.change("returned", returned, revision=revision, note="Fix the name",
                        comments=[{"field_key": "applicant.first_name", "text": "Typo?",
                                   "author": "Rae Reviewer",
                                   "at": "2026-06-02T10:00:00Z"}]))))
        store.run(AppendEdit(soon, "applicant.first_name", "Adah"))
        store.run(ApplyPull(feed.page(feed.change(
            "office_edit", soon, field_key="applicant.first_name", value="Adele",
            base_value="Ada", by="Olga Office"))))
    code, out, _ = case(paths, capsys, "list", "--status", "assigned", "--json")
    assert code == 0
    listed = json.loads(out)
    assert [c["reference_number"] for c in listed] == ["KYC-SOON", "KYC-LATER"]  # by due
    assert listed[0]["inbox"] == "assigned" and listed[0]["due_date"] == "2026-06-05"
    code, out, _ = case(paths, capsys, "list", "--status", "returned")
    assert code == 0 and returned in out
    code, out, _ = case(paths, capsys, "show", returned, "--json")
    shown = json.loads(out)
    assert shown["inbox"] == "returned"
    assert shown["comments"][0]["text"] == "Typo?"
    assert shown["decision"]["decision"] == "returned"
    assert shown["decision"]["note"] == "Fix the name"
    code, out, _ = case(paths, capsys, "show", soon, "--json")
    shown = json.loads(out)
    assert shown["assignment"]["prefilled"] == ["applicant.first_name",
                                                "applicant.last_name"]
    (conflict,) = shown["conflicts"]
    assert (conflict["server_value"], conflict["local_value"], conflict["server_by"]) == (
        "Adele", "Adah", "Olga Office")
    assert [h["why"] for h in shown["history"]] == ["prefilled", "prefilled"]
    code, _, err = case(paths, capsys, "resolve", soon, "--conflict", "999", "--keep",
                        "server")
    assert code == 1 and "no open choice 999" in err
    code, out, _ = case(paths, capsys, "resolve", soon, "--conflict", str(conflict["id"]),
                        "--keep", "server")
    assert code == 0 and "the office's value" in out
    shown = json.loads(case(paths, capsys, "show", soon, "--json")[1])
    assert shown["conflicts"] == []
    assert shown["form"]["applicant.first_name"] == "Adele"
    assert [h["why"] for h in shown["history"]][-1] == "merged"


def test_new_cases_use_the_newest_pushed_form_and_drafts_keep_theirs(
        qapp: object, paths: DataPaths, capsys: Capture) -> None:
    from tests.pull_pages import form_change, shipped_form

    code, out, _ = case(paths, capsys, "new", "--json")
    assert code == 0
    before = json.loads(out)["id"]
    feed = Feed()
    with LocalStore(paths, vault=vault_for(paths)) as store:
        old_version = store.load_case(before).form_version
        pushed = {**shipped_form(), "version": "9", "title": "Pushed by the office"}
        store.run(ApplyPull(feed.page(form_change(feed, pushed))))
    code, out, _ = case(paths, capsys, "new", "--json")
    assert code == 0
    after = json.loads(out)["id"]
    shown_before = json.loads(case(paths, capsys, "show", before, "--json")[1])
    shown_after = json.loads(case(paths, capsys, "show", after, "--json")[1])
    assert shown_before["form_version"] == old_version != "9"
    assert shown_after["form_version"] == "9"
