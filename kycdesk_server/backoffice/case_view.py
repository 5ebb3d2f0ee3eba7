"""What a reviewer reads about one revision: the answers grouped by the form's steps (as
words: option labels, yes/no), the photos with their provenance, the server's validation
of the answers against the form definition, and the field-by-field diff between two
revisions. Pure functions of a submission body and what the server holds."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kycdesk.core.form_schema import FieldDef, FieldKind, FormDefinition
from kycdesk.core.signature import png_sha256, smooth, strokes_of, svg_path
from kycdesk.core.validation import is_empty
from kycdesk_server.services.validation import ValidationFindings


@dataclass(frozen=True)
class SignatureDrawing:
    """A signature redrawn from its strokes (inline SVG: no image request, no data: URL
    for the page's content security policy to allow)."""

    width: int
    height: int
    paths: list[str]     # SVG path data, one per stroke, smoothed as the pad drew them
    signed_at: str
    png_sha256: str
    png_matches: bool    # the PNG sent is the one its recorded SHA-256 names


@dataclass(frozen=True)
class Answer:
    key: str
    label: str
    value: Any
    text: str            # the value as a reviewer reads it
    signature: SignatureDrawing | None = None


@dataclass(frozen=True)
class StepAnswers:
    step_id: str
    title: str
    answers: list[Answer]


@dataclass(frozen=True)
class Photo:
    client_image_id: str
    server_image_id: str
    slot: str | None
    slot_label: str
    sha256: str
    byte_size: int
    sha256_verified: bool    # the digest the server computed at upload is the one submitted
    captured_at: str | None
    captured_at_source: str | None
    latitude: float | None
    longitude: float | None
    accuracy: float | None
    address: str | None
    retake_suggested: list[str]   # what the tablet's retake checks found (blurred, …)
    retake_overridden: bool       # the verifier kept the photo despite them


@dataclass(frozen=True)
class Problem:
    key: str
    label: str
    message: str


@dataclass(frozen=True)
class FieldChange:
    key: str
    label: str
    before: str
    after: str


def signature_drawing(value: Any) -> SignatureDrawing | None:
    strokes = strokes_of(value)
    if not strokes:
        return None
    try:
        png = base64.b64decode(str(value.get("png", "")), validate=True)
    except (binascii.Error, ValueError):
        png = b""
    recorded = str(value.get("png_sha256", ""))
    return SignatureDrawing(
        width=_pad_size(value.get("width")), height=_pad_size(value.get("height")),
        paths=[svg_path(smooth(stroke)) for stroke in strokes],
        signed_at=str(value.get("signed_at", "")), png_sha256=recorded,
        png_matches=bool(png) and png_sha256(png) == recorded)


def _pad_size(raw: Any) -> int:
    """The pad's size as the device sent it; anything that is not a sane number of pixels
    draws at 0 (the strokes still show) rather than breaking the case page."""
    try:
        size = int(raw or 0)
    except (TypeError, ValueError):
        return 0
    return size if 0 <= size <= 10_000 else 0


def answer_text(field: FieldDef | None, value: Any) -> str:
    if is_empty(value):
        return ""
    if field is not None and field.kind is FieldKind.SIGNATURE:
        drawing = signature_drawing(value)
        if drawing is None:
            return "Not a signature"
        return (f"Signed {drawing.signed_at} · PNG SHA-256 {drawing.png_sha256[:12]}…"
                + ("" if drawing.png_matches else " (the PNG does not match its SHA-256)"))
    if isinstance(value, bool) or (field is not None and field.kind is FieldKind.YES_NO):
        return "Yes" if value in (True, "yes", "true") else "No"
    labels = {o.value: o.label for o in field.options} if field is not None else {}
    if isinstance(value, list):
        return ", ".join(labels.get(str(v), str(v)) for v in value)
    return labels.get(str(value), str(value))


def group_answers(definition: FormDefinition | None, values: Mapping[str, Any]
                  ) -> list[StepAnswers]:
    """Answered fields under their step, in form order; answers the definition does not
    know (or a form the server does not know) under "Other answers", never dropped."""
    steps: list[StepAnswers] = []
    known: set[str] = set()
    if definition is not None:
        for step in definition.steps:
            answers = []
            for field in step.fields:
                known.add(field.key)
                if field.kind is FieldKind.PHOTO or is_empty(values.get(field.key)):
                    continue
                value = values[field.key]
                answers.append(Answer(
                    field.key, field.label, value, answer_text(field, value),
                    signature_drawing(value) if field.kind is FieldKind.SIGNATURE else None))
            if answers:
                steps.append(StepAnswers(step.id, step.title, answers))
    other = [Answer(key, key, value, answer_text(None, value))
             for key, value in sorted(values.items()) if key not in known and not is_empty(value)]
    if other:
        steps.append(StepAnswers("other", "Other answers", other))
    return steps


def _label(definition: FormDefinition | None, key: str) -> str:
    if definition is not None:
        try:
            return definition.field(key).label
        except KeyError:
            pass
    return key


def slot_label(definition: FormDefinition | None, slot: str | None) -> str:
    if slot is None:
        return "Photo"
    if definition is not None:
        for field in definition.fields():
            if field.kind is FieldKind.PHOTO and field.slot == slot:
                return field.label
    return slot


def validation_problems(definition: FormDefinition | None,
                        findings: ValidationFindings) -> list[Problem]:
    """The server's verdict on a revision (services/validation.py: the one place it is
    computed, for the sync route and the review alike), labelled for the page."""
    problems = [Problem(key, _label(definition, key), message)
                for key, message in findings.problems.items()]
    problems += [Problem(key, key, "This answer is not part of the form.")
                 for key in findings.unknown_fields]
    return problems


def diff(definition: FormDefinition | None, before: Mapping[str, Any],
         after: Mapping[str, Any]) -> list[FieldChange]:
    """Every answer that differs between two revisions, in form order."""
    order = [f.key for f in definition.fields()] if definition is not None else []
    keys = [k for k in order if k in before or k in after]
    keys += sorted((set(before) | set(after)) - set(order))
    changes = []
    for key in keys:
        old, new = before.get(key), after.get(key)
        if old == new or (is_empty(old) and is_empty(new)):
            continue
        field = None
        if definition is not None:
            try:
                field = definition.field(key)
            except KeyError:
                field = None
        changes.append(FieldChange(key, _label(definition, key), answer_text(field, old),
                                   answer_text(field, new)))
    return changes


WHY_LABELS = {"typed": "typed by the verifier", "returned": "changed after a return",
              "prefilled": "prefilled by the office", "merged": "chosen in a conflict",
              "office": "corrected by the office", "document": "read from an ID document"}


@dataclass(frozen=True)
class HistoryEntry:
    """One change of an answer on the tablet (Submission.history), as a reviewer reads it."""

    key: str
    label: str
    before: str
    after: str
    at: str
    by: str
    why: str
    note: str


def history(definition: FormDefinition | None, entries: list[Any]) -> list[HistoryEntry]:
    """The field history a revision carried, oldest first (entries that are not what the
    contract says are skipped: the page never fails on a device's body)."""
    found = []
    for entry in entries:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("field_key"), str):
            continue
        key = entry["field_key"]
        field = None
        if definition is not None:
            try:
                field = definition.field(key)
            except KeyError:
                field = None
        if field is not None and field.kind is FieldKind.SIGNATURE:
            before, after = ("signed" if entry.get("old") else ""), \
                ("signed" if entry.get("new") else "")
        else:
            before, after = answer_text(field, entry.get("old")), \
                answer_text(field, entry.get("new"))
        why = str(entry.get("why") or "typed")
        found.append(HistoryEntry(key, _label(definition, key), before, after,
                                  str(entry.get("at") or ""), str(entry.get("by") or ""),
                                  WHY_LABELS.get(why, why), str(entry.get("note") or "")))
    return found
