"""Form definitions as data: versioned, validated when loaded.

A definition is steps of fields; a field has a kind, constraints, help, and optionally a
condition on another field's value that decides whether it is shown. Photo slots are
fields of kind `photo` whose value lives in the image store, counted by slot.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kycdesk.core.numbers import STYLES

KEY_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$"


class FieldKind(StrEnum):
    TEXT = "text"
    MULTILINE = "multiline"
    INTEGER = "integer"
    DECIMAL = "decimal"
    DATE = "date"
    SINGLE_CHOICE = "single_choice"
    MULTI_CHOICE = "multi_choice"
    YES_NO = "yes_no"
    PHONE = "phone"
    EMAIL = "email"
    ID_NUMBER = "id_number"
    PHOTO = "photo"
    SIGNATURE = "signature"  # strokes + their PNG (core/signature.py)


CHOICE_KINDS = {FieldKind.SINGLE_CHOICE, FieldKind.MULTI_CHOICE}
PROFILE_DEFAULTS = ("profile:name", "profile:employee_id")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Option(_Strict):
    value: str
    label: str


class VisibleWhen(_Strict):
    """Show the field only when `field` has this value (`equals`), one of these values
    (`one_of`; for multi-choice fields: any selected), or any value (`not_empty`)."""

    field: str
    equals: Any = None
    one_of: list[Any] | None = None
    not_empty: bool = False

    @model_validator(mode="after")
    def _exactly_one_condition(self) -> VisibleWhen:
        given = sum([self.equals is not None, self.one_of is not None, self.not_empty])
        if given != 1:
            raise ValueError("visible_when needs exactly one of equals, one_of, not_empty")
        return self


class Format(_Strict):
    pattern: str
    message: str

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"pattern does not compile: {exc}") from exc
        return value


class FormatBy(_Strict):
    """The format a text answer must have depends on another answer (a postcode on the
    country): `formats[value of field]`; a value not listed means no fixed format."""

    field: str = Field(pattern=KEY_PATTERN)
    formats: dict[str, Format]


class FieldDef(_Strict):
    key: str = Field(pattern=KEY_PATTERN)
    label: str = Field(min_length=1)
    kind: FieldKind
    required: bool = False
    help: str = ""
    placeholder: str = ""
    min_length: int | None = Field(default=None, ge=0)
    max_length: int | None = Field(default=None, ge=1)
    pattern: str | None = None
    pattern_message: str | None = None
    format_by: FormatBy | None = None  # replaces `pattern` when the other answer is known
    # Filled in when the verifier reaches the field's step and it is blank: "today" (a
    # date), or "profile:name" / "profile:employee_id" (the verifier's profile, Settings).
    default: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    decimals: int | None = Field(default=None, ge=0, le=6)
    min_date: str | None = None  # ISO date or "today"
    max_date: str | None = None
    options: list[Option] = Field(default_factory=list)
    visible_when: VisibleWhen | None = None
    min_count: int = Field(default=0, ge=0)
    max_count: int = Field(default=1, ge=1)
    # Photo slots: None keeps the original (ID documents: every pixel is evidence); a
    # number stores a re-encoded copy of at most that many megapixels (site photos).
    max_megapixels: float | None = Field(default=None, gt=0)
    # Photo slots of ID documents: each photo added is checked for blur, glare, darkness
    # and a document too small in the frame, and a retake is suggested (photo_quality).
    check_quality: bool = False

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"pattern does not compile: {exc}") from exc
        return value

    @field_validator("min_date", "max_date")
    @classmethod
    def _date_bound(cls, value: str | None) -> str | None:
        if value is not None and value != "today" and not re.fullmatch(
                r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError("date bounds are YYYY-MM-DD or 'today'")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> FieldDef:
        if self.kind in CHOICE_KINDS and not self.options:
            raise ValueError(f"{self.key}: a {self.kind.value} field needs options")
        if self.kind not in CHOICE_KINDS and self.options:
            raise ValueError(f"{self.key}: only choice fields have options")
        values = [o.value for o in self.options]
        if len(values) != len(set(values)):
            raise ValueError(f"{self.key}: option values repeat")
        if (self.minimum is not None and self.maximum is not None
                and self.minimum > self.maximum):
            raise ValueError(f"{self.key}: minimum is above maximum")
        if (self.min_length is not None and self.max_length is not None
                and self.min_length > self.max_length):
            raise ValueError(f"{self.key}: min_length is above max_length")
        if self.kind is FieldKind.PHOTO and self.min_count > self.max_count:
            raise ValueError(f"{self.key}: min_count is above max_count")
        if self.kind is not FieldKind.PHOTO and self.check_quality:
            raise ValueError(f"{self.key}: only photo slots have check_quality")
        if self.kind is not FieldKind.PHOTO and self.max_megapixels is not None:
            raise ValueError(f"{self.key}: only photo slots have max_megapixels")
        if self.default is not None and not (
                (self.kind is FieldKind.DATE and self.default == "today")
                or (self.kind in (FieldKind.TEXT, FieldKind.ID_NUMBER)
                    and self.default in PROFILE_DEFAULTS)):
            raise ValueError(f"{self.key}: defaults are \"today\" for a date, or "
                             f"{', '.join(PROFILE_DEFAULTS)} for text")
        return self

    @property
    def slot(self) -> str:
        """Photo slot name as stored with images: the key without its step prefix."""
        return self.key.split(".", 1)[1]

    @property
    def max_pixels(self) -> int | None:
        return None if self.max_megapixels is None else int(self.max_megapixels * 1_000_000)


class StepDef(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str = Field(min_length=1)
    description: str = ""
    fields: list[FieldDef] = Field(min_length=1)


class Summary(_Strict):
    """Which fields feed the case list (reference number, applicant name) and its search
    (the applicant's ID numbers)."""

    reference_field: str | None = None
    name_fields: list[str] = Field(default_factory=list)
    id_fields: list[str] = Field(default_factory=list)


class FormMigration(_Strict):
    """How a draft saved under `from_version` becomes one of this version. Values of
    fields this version no longer has are kept in the draft, never dropped."""

    from_version: str
    rename: dict[str, str] = Field(default_factory=dict)


class FormDefinition(_Strict):
    form_id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    version: str = Field(min_length=1)
    title: str
    # How numbers and money are typed in this form ("45,000.50" in en_GB, "45.000,50" in
    # de_DE): the country the form is for, not the device's settings — the same form
    # reads the same on every tablet. The shipped forms ask for £ amounts: en_GB.
    locale: str = "en_GB"
    summary: Summary = Field(default_factory=Summary)
    steps: list[StepDef] = Field(min_length=1)
    migrations: list[FormMigration] = Field(default_factory=list)

    @field_validator("locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        if value not in STYLES:
            raise ValueError(f"locale {value!r} is not one of {', '.join(sorted(STYLES))}")
        return value

    @model_validator(mode="after")
    def _references_resolve(self) -> FormDefinition:
        keys: dict[str, FieldDef] = {}
        step_ids: set[str] = set()
        for step in self.steps:
            if step.id in step_ids:
                raise ValueError(f"step id {step.id!r} repeats")
            step_ids.add(step.id)
            for field in step.fields:
                if field.key in keys:
                    raise ValueError(f"field key {field.key!r} repeats")
                if field.visible_when is not None:
                    controller = keys.get(field.visible_when.field)
                    if controller is None:
                        raise ValueError(
                            f"{field.key}: visible_when refers to {field.visible_when.field!r}"
                            ", which is not a field defined before it")
                    if controller.kind is FieldKind.PHOTO:
                        raise ValueError(f"{field.key}: cannot depend on a photo slot")
                keys[field.key] = field
        for field in keys.values():
            if field.format_by is not None and field.format_by.field not in keys:
                raise ValueError(f"{field.key}: format_by refers to unknown field "
                                 f"{field.format_by.field!r}")
        for key in [self.summary.reference_field, *self.summary.name_fields,
                    *self.summary.id_fields]:
            if key is not None and key not in keys:
                raise ValueError(f"summary refers to unknown field {key!r}")
        for migration in self.migrations:
            for new in migration.rename.values():
                if new not in keys:
                    raise ValueError(f"migration renames to unknown field {new!r}")
        return self

    def fields(self) -> list[FieldDef]:
        return [field for step in self.steps for field in step.fields]

    def applicant_name(self, values: Mapping[str, Any]) -> str | None:
        """The name the case list shows: the summary's name fields, joined."""
        parts = [str(values.get(key) or "").strip() for key in self.summary.name_fields]
        return " ".join(part for part in parts if part) or None

    def id_numbers(self, values: Mapping[str, Any]) -> str | None:
        """The ID numbers the case list search looks in (the summary's id fields)."""
        parts = [str(values.get(key) or "").strip() for key in self.summary.id_fields]
        return " ".join(part for part in parts if part) or None

    def field(self, key: str) -> FieldDef:
        for step in self.steps:
            for field in step.fields:
                if field.key == key:
                    return field
        raise KeyError(key)

    def step_index_of(self, key: str) -> int:
        for index, step in enumerate(self.steps):
            if any(field.key == key for field in step.fields):
                return index
        raise KeyError(key)

    def step_index(self, step_id: str | None) -> int:
        for index, step in enumerate(self.steps):
            if step.id == step_id:
                return index
        return 0
