"""Form definitions: the shipped forms, load errors, validation rules, visibility,
and migrating a v1 draft to v2 without losing a value."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from kycdesk.core.form_schema import FieldDef, FieldKind, FormDefinition
from kycdesk.core.validation import is_visible, validate_form, validate_value
from kycdesk.models.form_registry import FormDefinitionError, FormRegistry, load_definition
from kycdesk.resources import resource_path, resource_root

TODAY = date(2026, 11, 26)


@pytest.fixture(scope="module")
def registry() -> FormRegistry:
    return FormRegistry.load()


def test_shipped_form_is_realistic_and_versioned(registry: FormRegistry) -> None:
    assert registry.versions("individual_kyc") == ["1", "2", "3"]
    v1 = registry.get("individual_kyc", "1")
    assert len(v1.steps) == 8
    assert len(v1.fields()) >= 150
    kinds = {f.kind for f in v1.fields()}
    assert kinds == set(FieldKind) - {FieldKind.SIGNATURE}
    latest = {f.kind for f in registry.latest("individual_kyc").fields()}
    assert latest == set(FieldKind)  # every kind is exercised by the real form
    assert [s.id for s in v1.steps] == ["applicant", "identity", "address", "employment",
                                        "declarations", "visit", "photos", "verifier"]
    photos = [f for f in v1.fields() if f.kind is FieldKind.PHOTO]
    assert {f.slot for f in photos} >= {"id_front", "id_back", "selfie", "address_proof"}


def test_resources_are_found_from_source_and_frozen(monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    assert resource_path("forms", "individual_kyc_v1.json").is_file()
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert resource_root() == tmp_path / "resources"


def _write(folder: Path, definition: dict[str, Any] | str) -> Path:
    path = folder / "broken.json"
    path.write_text(definition if isinstance(definition, str) else json.dumps(definition))
    return path


def _minimal(**field: Any) -> dict[str, Any]:
    base = {"key": "a.b", "label": "A", "kind": "text"}
    base.update(field)
    return {"form_id": "f", "version": "1", "title": "T",
            "steps": [{"id": "s", "title": "S", "fields": [base]}]}


@pytest.mark.parametrize(("content", "expected"), [
    ("{not json", "not valid JSON (line 1"),
    (_minimal(kind="fingerprint"), "kind"),
    (_minimal(kind="single_choice"), "needs options"),
    (_minimal(pattern="(unclosed"), "pattern does not compile"),
    (_minimal(key="Bad Key"), "key"),
    (_minimal(visible_when={"field": "x.y", "equals": True}), "not a field defined before"),
    (_minimal(minimum=5, maximum=1), "minimum is above maximum"),
    (_minimal(surprise=1), "surprise"),
])
def test_broken_definition_is_refused_with_a_clear_message(
        tmp_path: Path, content: dict[str, Any] | str, expected: str) -> None:
    with pytest.raises(FormDefinitionError) as raised:
        load_definition(_write(tmp_path, content))
    assert "broken.json" in str(raised.value) and expected in str(raised.value)


def _field(**extra: Any) -> FieldDef:
    return FieldDef.model_validate({"key": "s.f", "label": "F", "kind": "text", **extra})


@pytest.mark.parametrize(("field", "value", "message"), [
    (_field(required=True), "", "Required."),
    (_field(required=True), None, "Required."),
    (_field(), "", None),
    (_field(max_length=3), "abcd", "At most 3 characters"),
    (_field(min_length=2), "a", "At least 2"),
    (_field(kind="email"), "name@example", "email address"),
    (_field(kind="email"), "name@example.org", None),
    (_field(kind="phone"), "call me", "phone number"),
    (_field(kind="phone"), "+44 7700 900123", None),
    (_field(kind="id_number", pattern="^V[0-9]{5}$", pattern_message="V and five digits"),
     "V1234", "V and five digits"),
    (_field(kind="id_number", pattern="^V[0-9]{5}$"), "V12345", None),
    (_field(kind="integer", minimum=0, maximum=20), 21, "at most 20"),
    (_field(kind="integer", minimum=0), -1, "at least 0"),
    (_field(kind="integer"), "3", "whole number"),
    (_field(kind="integer"), True, "whole number"),
    (_field(kind="decimal", decimals=2), "10.555", "2 decimal places"),
    (_field(kind="decimal", decimals=2, maximum=100), "100.01", "at most 100"),
    (_field(kind="decimal", decimals=2), "12500.50", None),
    (_field(kind="decimal"), "twelve", "Enter a number"),
    (_field(kind="date", max_date="today"), "2026-11-27", "not be in the future"),
    (_field(kind="date", min_date="today"), "2026-11-25", "not be in the past"),
    (_field(kind="date", min_date="1900-01-01"), "1899-12-31", "on or after 1900-01-01"),
    (_field(kind="date"), "26/11/2026", "Enter a date such as"),
    (_field(kind="single_choice", options=[{"value": "a", "label": "A"}]), "b", "Choose one"),
    (_field(kind="multi_choice", options=[{"value": "a", "label": "A"}]), ["a", "z"],
     "Choose from"),
    (_field(kind="multi_choice", options=[{"value": "a", "label": "A"}]), ["a"], None),
    (_field(kind="yes_no"), "yes", "yes or no"),
    (_field(kind="yes_no", required=True), False, None),
])
def test_validation_rules(field: FieldDef, value: Any, message: str | None) -> None:
    result = validate_value(field, value, today=TODAY)
    if message is None:
        assert result is None
    else:
        assert result is not None and message in result


def test_photo_slot_counts() -> None:
    slot = FieldDef.model_validate({"key": "photos.id_front", "label": "ID", "kind": "photo",
                                    "min_count": 1, "max_count": 2})
    assert validate_value(slot, None, photo_count=0) == "Add 1 more photo."
    assert validate_value(slot, None, photo_count=1) is None
    assert validate_value(slot, None, photo_count=3) == "At most 2 photos."


def test_conditional_fields_are_hidden_and_not_validated(registry: FormRegistry) -> None:
    form = registry.get("individual_kyc", "1")
    pep_role = form.field("declarations.pep_role")
    assert not is_visible(form, pep_role, {})
    assert not is_visible(form, pep_role, {"declarations.pep": False})
    assert is_visible(form, pep_role, {"declarations.pep": True})
    problems = validate_form(form, {"declarations.pep": False}, {}, today=TODAY)
    assert "declarations.pep_role" not in problems
    problems = validate_form(form, {"declarations.pep": True}, {}, today=TODAY)
    assert problems["declarations.pep_role"] == "Required."
    # one_of and multi-choice controllers
    rent = form.field("address.monthly_rent")
    assert is_visible(form, rent, {"address.residential_status": "renting"})
    other = form.field("employment.other_income_amount")
    assert is_visible(form, other, {"employment.other_income_sources": ["rental"]})
    assert not is_visible(form, other, {"employment.other_income_sources": []})


def test_a_field_hidden_by_a_hidden_controller_stays_hidden() -> None:
    form = FormDefinition.model_validate({
        "form_id": "f", "version": "1", "title": "T", "steps": [{"id": "s", "title": "S",
        "fields": [
            {"key": "s.a", "label": "A", "kind": "yes_no"},
            {"key": "s.b", "label": "B", "kind": "yes_no",
             "visible_when": {"field": "s.a", "equals": True}},
            {"key": "s.c", "label": "C", "kind": "text", "required": True,
             "visible_when": {"field": "s.b", "equals": True}}]}]})
    values = {"s.a": False, "s.b": True}
    assert not is_visible(form, form.field("s.c"), values)
    assert validate_form(form, values, {}) == {}


def test_first_problem_is_in_form_order(registry: FormRegistry) -> None:
    form = registry.latest()
    problems = validate_form(form, {}, {}, today=TODAY)
    assert next(iter(problems)) == "applicant.first_name"
    assert "photos.id_front" in problems


def test_v1_draft_migrates_to_v2_keeping_every_value(registry: FormRegistry) -> None:
    v1_values = {
        "applicant.first_name": "Amara",
        "applicant.phone_mobile": "+44 7700 900123",   # renamed in v2
        "address.postcode": "LS1 4AP",                 # renamed in v2
        "visit.observations": "Tidy flat, name on door.",  # renamed in v2
        "applicant.previous_names": "Amara Okoye",     # removed in v2: kept anyway
        "legacy.unknown_field": 42,                    # not in any version: kept
    }
    migrated = registry.migrate("individual_kyc", v1_values, "1", "2")
    values = migrated.values
    assert values["applicant.mobile_phone"] == "+44 7700 900123"
    assert values["address.postal_code"] == "LS1 4AP"
    assert values["visit.notes"] == "Tidy flat, name on door."
    assert values["applicant.first_name"] == "Amara"
    assert values["applicant.previous_names"] == "Amara Okoye"
    assert values["legacy.unknown_field"] == 42
    assert sorted(migrated.kept_unknown) == ["applicant.previous_names",
                                             "legacy.unknown_field"]
    # nothing was lost: every old value is still there under its old or new key
    assert sorted(map(str, values.values())) == sorted(map(str, v1_values.values()))


def test_migration_never_goes_backwards(registry: FormRegistry) -> None:
    with pytest.raises(FormDefinitionError, match="older version"):
        registry.migrate("individual_kyc", {}, "2", "1")


def test_the_postcode_format_follows_the_country(registry: FormRegistry) -> None:
    form = registry.latest("individual_kyc")
    postcode = form.field("address.postal_code")

    def problem(country: str, code: str) -> str | None:
        return validate_value(postcode, code, values={"address.country": country})

    assert problem("GB", "LS1 4AP") is None
    assert problem("GB", "100001") == "A UK postcode such as LS1 4AP"
    assert problem("NG", "100001") is None          # a Nigerian postcode is not a UK one
    assert problem("IN", "110001") is None
    assert problem("PL", "00950") == "Two digits, a dash and three digits, such as 00-950"
    assert problem("OTHER", "anything 12") is None  # no fixed format: none imposed
    assert problem("", "LS1 4AP") is None           # country not chosen yet


def test_changing_the_country_re_checks_the_postcode(registry: FormRegistry) -> None:
    from kycdesk.models.draft_model import DraftModel

    model = DraftModel(registry.latest("individual_kyc"))
    model.set_value("address.country", "NG")
    model.set_value("address.postal_code", "100001")
    assert model.error("address.postal_code") is None
    rows: list[int] = []
    model.dataChanged.connect(lambda first, _last: rows.append(first.row()))
    model.set_value("address.country", "GB")
    assert model.row_of("address.postal_code") in rows  # its editor redraws the error
    assert model.error("address.postal_code") == "A UK postcode such as LS1 4AP"


def test_demo_form_labels_keep_their_acronyms(registry: FormRegistry) -> None:
    form = registry.latest("individual_kyc")
    labels = {o.label for f in form.fields() for o in f.options}
    assert {"National ID", "UV features"} <= labels
    assert not {"National id", "Uv features"} & labels
