"""The server checks submitted form values against the form definition: an unknown form
or a value of the wrong type is refused (422, the fields named); the form's rules are
judged and kept per revision as findings for the review side."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from kycdesk_server.services.submissions import SubmissionService
from kycdesk_server.storage import ServerStore
from tests.sync_support import TOKEN, ServerHandle, start_server

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    handle = start_server(tmp_path_factory.mktemp("validation") / "data")
    yield handle
    handle.stop()


def _submit(server: ServerHandle, case_id: str, form: dict[str, Any], *,
            form_id: str | None = "individual_kyc", version: str | None = "2",
            revision: int = 1) -> httpx.Response:
    return httpx.put(f"{server.base_url}/v1/cases/{case_id}/submission", headers=AUTH,
                     json={"revision": revision, "form_id": form_id, "form_version": version,
                           "form": form, "images": [],
                           "client": {"app_version": "t", "device_id": "d"}})


def test_an_unknown_form_or_version_is_refused(server: ServerHandle) -> None:
    for form_id, version in (("nonsense", "2"), ("individual_kyc", "99")):
        reply = _submit(server, str(uuid.uuid4()), {}, form_id=form_id, version=version)
        assert reply.status_code == 422
        assert reply.json()["fields"] == ["form_id", "form_version"]


def test_values_of_the_wrong_type_are_refused_with_their_fields(server: ServerHandle
                                                                 ) -> None:
    reply = _submit(server, str(uuid.uuid4()), {
        "applicant.first_name": 42, "applicant.dependants": "two",
        "applicant.needs_interpreter": "yes", "identity.licence_categories": "B",
        "applicant.last_name": "Okafor"})
    assert reply.status_code == 422
    assert sorted(reply.json()["fields"]) == [
        "applicant.dependants", "applicant.first_name", "applicant.needs_interpreter",
        "identity.licence_categories"]


def test_rule_findings_are_kept_per_revision(server: ServerHandle) -> None:
    case_id = str(uuid.uuid4())
    first = _submit(server, case_id, {"applicant.first_name": "Ada",
                                      "applicant.email": "not an address",
                                      "legacy.key": "kept"})
    assert first.status_code == 201  # findings do not refuse: the device accepted it
    second = _submit(server, case_id, {"applicant.first_name": "Ada",
                                       "applicant.email": "ada@example.org"}, revision=2)
    assert second.status_code == 201
    no_form = _submit(server, str(uuid.uuid4()), {"a": 1}, form_id=None, version=None)
    assert no_form.status_code == 201
    store = ServerStore(server.data_dir)
    try:
        service = SubmissionService(store)
        one = service.validation_findings(case_id, 1)
        two = service.validation_findings(case_id, 2)
        assert one.checked and one.form_id == "individual_kyc" and one.form_version == "2"
        assert one.problems["applicant.email"].startswith("Enter an email address")
        assert one.problems["applicant.last_name"] == "Required."
        assert one.unknown_fields == ["legacy.key"]
        assert "applicant.email" not in two.problems and two.unknown_fields == []
    finally:
        store.close()


def test_the_client_still_sends_its_revision_as_a_number() -> None:
    from kycdesk.core.protocol import ClientInfo, Submission

    body = Submission(revision=3, form={}, images=[],
                      client=ClientInfo(app_version="t", device_id="d")).model_dump_json()
    assert '"revision":3' in body
