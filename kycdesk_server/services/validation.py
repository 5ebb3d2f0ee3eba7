"""A submission's form values checked against its form definition, on the server.

What is refused (422, the fields named in `fields`): a submission naming a form or a
version the server does not know, and values of a type their field cannot hold (text
where a yes/no goes, a number where a date goes, an unknown choice's shape) — such a
body is not a case of that form. What is recorded, not refused: the form's rules
(required, formats, ranges, date bounds, photo counts) judged as on the device
(`kycdesk.core.validation`, with the day the revision was accepted as "today"), and
values under keys the form does not have. Those are findings a reviewer sees beside the
revision (`SubmissionService.validation_findings`); refusing them would strand a case
the device accepted with its own clock and form version, with nothing the verifier
could change on the server. A submission that names no form is not checked (lab and
older clients).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from kycdesk.core.form_schema import FieldDef, FieldKind, FormDefinition
from kycdesk.core.protocol import Submission
from kycdesk.core.validation import is_empty, validate_form
from kycdesk_server.errors import RequestRefusedError
from kycdesk_server.forms import FormCatalogue

_TEXT_KINDS = {FieldKind.TEXT, FieldKind.MULTILINE, FieldKind.PHONE, FieldKind.EMAIL,
               FieldKind.ID_NUMBER, FieldKind.DATE, FieldKind.SINGLE_CHOICE}


@dataclass(frozen=True)
class ValidationFindings:
    """What the form's rules say about one revision (empty `problems`: it passes)."""

    form_id: str | None
    form_version: str | None
    checked: bool                      # False: the submission named no form
    problems: dict[str, str] = field(default_factory=dict)  # field key -> message
    unknown_fields: list[str] = field(default_factory=list)


def _holds(definition: FieldDef, value: Any) -> bool:
    """Whether the value has a type this field can hold (not whether it is valid)."""
    if is_empty(value) or definition.kind is FieldKind.PHOTO:
        return True
    kind = definition.kind
    if kind in _TEXT_KINDS:
        return isinstance(value, str)
    if kind is FieldKind.INTEGER:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is FieldKind.DECIMAL:
        return isinstance(value, int | float | str) and not isinstance(value, bool)
    if kind is FieldKind.MULTI_CHOICE:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind is FieldKind.SIGNATURE:
        return isinstance(value, dict)  # whether it is a whole signature: a finding
    return isinstance(value, bool)  # yes/no


class FormValidation:
    def __init__(self, catalogue: FormCatalogue) -> None:
        self.catalogue = catalogue

    def refuse_unfit(self, submission: Submission) -> None:
        """422 if the submission's form is unknown or a value's type cannot be held."""
        if submission.form_id is None and submission.form_version is None:
            return
        definition = self._definition(submission.form_id, submission.form_version)
        if definition is None:
            raise RequestRefusedError(
                422, "Unknown form", f"The server does not know form {submission.form_id!r} "
                f"version {submission.form_version!r}.", fields=["form_id", "form_version"])
        wrong = [f.key for f in definition.fields()
                 if f.key in submission.form and not _holds(f, submission.form[f.key])]
        if wrong:
            raise RequestRefusedError(422, "Values of the wrong type",
                                      f"{len(wrong)} value(s) cannot be held by their "
                                      "field.", fields=wrong)

    def findings(self, body: Mapping[str, Any], accepted_on: date) -> ValidationFindings:
        """The rules' verdict on a stored revision's body (as `Submission.model_dump`)."""
        form_id, version = body.get("form_id"), body.get("form_version")
        definition = self._definition(form_id, version)
        if definition is None:
            return ValidationFindings(form_id, version, checked=False)
        values: dict[str, Any] = dict(body.get("form") or {})
        slots = Counter(str(image.get("slot")) for image in body.get("images") or [])
        keys = {f.key for f in definition.fields()}
        return ValidationFindings(
            form_id, version, checked=True,
            problems=validate_form(definition, values, slots, today=accepted_on),
            unknown_fields=sorted(k for k in values if k not in keys))

    def _definition(self, form_id: str | None, version: str | None
                    ) -> FormDefinition | None:
        if form_id is None or version is None:
            return None
        return self.catalogue.get(form_id, version)
