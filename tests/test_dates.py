"""Dates as typed, in the form's day/month order (issue 19: 14031988 was always refused,
and 31/02/1990 got a generic message)."""

from __future__ import annotations

from datetime import date

import pytest

from kycdesk.core.dates import date_problem, parse_typed_date
from kycdesk.core.form_schema import FieldDef, FieldKind
from kycdesk.core.validation import validate_value


@pytest.mark.parametrize(("text", "locale", "expected"), [
    ("14031988", "en_GB", date(1988, 3, 14)),  # DDMMYYYY: the YYYYMMDD form has no such day
    ("19880314", "en_GB", date(1988, 3, 14)),
    ("01022003", "en_GB", date(2003, 2, 1)),
    ("14/03/1988", "en_GB", date(1988, 3, 14)),
    ("14.3.1988", "de_DE", date(1988, 3, 14)),
    ("1988-03-14", "en_US", date(1988, 3, 14)),
    ("03/14/1988", "en_US", date(1988, 3, 14)),  # month first where the locale says so
    ("03141988", "en_US", date(1988, 3, 14)),
    ("14/03/1988", "en_US", None),
    ("31/02/1990", "en_GB", None),
])
def test_typed_dates(text: str, locale: str, expected: date | None) -> None:
    assert parse_typed_date(text, locale) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("31/02/1990", "February 1990 has 28 days."),
    ("29.02.2023", "February 2023 has 28 days."),
    ("31041988", "April 1988 has 30 days."),
    ("14/13/1988", "There is no month 13."),
])
def test_a_day_that_does_not_exist_is_named(text: str, message: str) -> None:
    assert date_problem(text, "en_GB") == message
    field = FieldDef(key="applicant.date_of_birth", label="Date of birth",
                     kind=FieldKind.DATE)
    assert validate_value(field, text, locale="en_GB") == message


def test_the_date_editor_takes_ddmmyyyy(qtbot: object) -> None:
    from pytestqt.qtbot import QtBot

    from kycdesk.core.form_schema import FormDefinition, StepDef
    from kycdesk.models.draft_model import DraftModel
    from kycdesk.views.field_widgets import DateEditor

    assert isinstance(qtbot, QtBot)
    field = FieldDef(key="applicant.date_of_birth", label="Date of birth",
                     kind=FieldKind.DATE)
    definition = FormDefinition(form_id="d", version="1", title="D",
                                steps=[StepDef(id="a", title="A", fields=[field])])
    model = DraftModel(definition, {})
    editor = DateEditor(model, field)
    qtbot.addWidget(editor)
    qtbot.keyClicks(editor.line, "14031988")
    assert model.value(field.key) == "1988-03-14"
    editor.line.editingFinished.emit()
    assert editor.line.text() == "1988-03-14"
