"""Field values: what is empty, what is visible, what is valid (messages in words)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any, assert_never

from kycdesk.core.dates import date_problem
from kycdesk.core.form_schema import FieldDef, FieldKind, FormDefinition
from kycdesk.core.numbers import decimal_places, format_number, read_number, stored_number
from kycdesk.core.signature import signature_problem

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
PHONE = re.compile(r"^\+?[0-9 ()-]{7,20}$")


def is_empty(value: Any) -> bool:
    return value is None or value in ("", [])


def _matches(condition_value: Any, actual: Any) -> bool:
    if isinstance(actual, list):
        return condition_value in actual
    return bool(actual == condition_value)


def is_visible(definition: FormDefinition, field: FieldDef,
               values: Mapping[str, Any]) -> bool:
    """Shown if it has no condition, or its condition holds and its controller is shown."""
    condition = field.visible_when
    if condition is None:
        return True
    controller = definition.field(condition.field)
    if not is_visible(definition, controller, values):
        return False
    actual = values.get(condition.field)
    if condition.not_empty:
        return not is_empty(actual)
    if condition.one_of is not None:
        return any(_matches(option, actual) for option in condition.one_of)
    return _matches(condition.equals, actual)


def _date_bound(bound: str | None, today: date) -> date | None:
    if bound is None:
        return None
    return today if bound == "today" else date.fromisoformat(bound)


def validate_value(field: FieldDef, value: Any, *, today: date | None = None,
                   photo_count: int = 0, values: Mapping[str, Any] | None = None,
                   locale: str = "en_GB") -> str | None:
    """None if valid, else a message a verifier understands."""
    today = today or date.today()
    kind = field.kind
    if kind is FieldKind.PHOTO:
        if photo_count < field.min_count:
            need = field.min_count - photo_count
            return f"Add {need} more photo{'s' if need > 1 else ''}."
        if photo_count > field.max_count:
            return f"At most {field.max_count} photo{'s' if field.max_count > 1 else ''}."
        return None
    if is_empty(value):
        return "Required." if field.required else None
    match kind:
        case (FieldKind.TEXT | FieldKind.MULTILINE | FieldKind.PHONE | FieldKind.EMAIL
              | FieldKind.ID_NUMBER):
            return _text(field, value, values or {})
        case FieldKind.INTEGER | FieldKind.DECIMAL:
            return _number(field, value, locale)
        case FieldKind.DATE:
            return _date(field, value, today, locale)
        case FieldKind.SINGLE_CHOICE:
            if value not in {o.value for o in field.options}:
                return "Choose one of the options."
            return None
        case FieldKind.MULTI_CHOICE:
            allowed = {o.value for o in field.options}
            if not isinstance(value, list) or any(v not in allowed for v in value):
                return "Choose from the options."
            return None
        case FieldKind.YES_NO:
            return None if isinstance(value, bool) else "Choose yes or no."
        case FieldKind.SIGNATURE:
            return signature_problem(value)
    assert_never(kind)  # photo slots were handled first (counts, not a value)


def _text(field: FieldDef, value: Any, values: Mapping[str, Any]) -> str | None:
    if not isinstance(value, str):
        return "Enter text."
    text = value.strip()
    if field.min_length is not None and len(text) < field.min_length:
        return f"At least {field.min_length} characters."
    if field.max_length is not None and len(text) > field.max_length:
        return f"At most {field.max_length} characters ({len(text)} now)."
    if field.kind is FieldKind.EMAIL and not EMAIL.match(text):
        return "Enter an email address like name@example.org."
    if field.kind is FieldKind.PHONE and not PHONE.match(text):
        return "Enter a phone number: digits, spaces, + ( ) -, 7 to 20 characters."
    pattern, message = field.pattern, field.pattern_message
    if field.format_by is not None:
        rule = field.format_by.formats.get(str(values.get(field.format_by.field)))
        pattern, message = (rule.pattern, rule.message) if rule else (None, None)
    if pattern is not None and not re.fullmatch(pattern, text):
        return message or "This does not have the expected format."
    return None


def _number(field: FieldDef, value: Any, locale: str) -> str | None:
    """A stored number (an int; an exact decimal string "45000.50"; an older store's
    float), or text the verifier typed that could not be read — refused with how it could
    be read ("Did you mean 45,000.00?")."""
    whole = field.kind is FieldKind.INTEGER
    most = 0 if whole else field.decimals
    number = None if whole and not isinstance(value, int) else stored_number(value)
    if isinstance(value, str) and (number is None or (
            most is not None and decimal_places(number) > most)):
        reading = read_number(value, locale, decimals=field.decimals, whole=whole)
        if reading.problem is not None:
            return reading.problem
    if number is None:
        return "Enter a whole number." if whole else "Enter a number."
    if most is not None and decimal_places(number) > most:
        return f"At most {most} decimal places."
    return _range(field, number, locale)


def _date(field: FieldDef, value: Any, today: date, locale: str) -> str | None:
    try:
        moment = date.fromisoformat(str(value))
    except ValueError:
        return date_problem(str(value), locale) or \
            "Enter a date such as 1988-03-14 (or 14/03/1988)."
    low, high = _date_bound(field.min_date, today), _date_bound(field.max_date, today)
    if low is not None and moment < low:
        return "Must not be in the past." if field.min_date == "today" else \
            f"Must be on or after {low.isoformat()}."
    if high is not None and moment > high:
        return "Must not be in the future." if field.max_date == "today" else \
            f"Must be on or before {high.isoformat()}."
    return None


def _range(field: FieldDef, number: Decimal, locale: str) -> str | None:
    """Bounds written the way the verifier types numbers here ("at most 1,000,000")."""
    if field.minimum is not None and number < Decimal(str(field.minimum)):
        return f"Must be at least {_bound(field.minimum, locale)}."
    if field.maximum is not None and number > Decimal(str(field.maximum)):
        return f"Must be at most {_bound(field.maximum, locale)}."
    return None


def _bound(number: float, locale: str) -> str:
    exact = Decimal(repr(number))
    return format_number(exact.to_integral_value() if exact == exact.to_integral_value()
                         else exact.normalize(), locale)


def validate_form(definition: FormDefinition, values: Mapping[str, Any],
                  photo_counts: Mapping[str, int], *, today: date | None = None
                  ) -> dict[str, str]:
    """Every visible field's problem, in form order (first = where Submit jumps)."""
    problems: dict[str, str] = {}
    for field in definition.fields():
        if not is_visible(definition, field, values):
            continue
        message = validate_value(field, values.get(field.key), today=today,
                                 photo_count=photo_counts.get(field.slot, 0), values=values,
                                 locale=definition.locale)
        if message is not None:
            problems[field.key] = message
    return problems
