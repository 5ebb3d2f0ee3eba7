"""Case ids are UUIDs and double as folder names: validate before any path is built."""

from __future__ import annotations

import uuid

from kycdesk.core.errors import InvalidCaseIdError


def new_id() -> str:
    return str(uuid.uuid4())


def validate_case_id(case_id: str) -> str:
    """Return `case_id` if it is a canonical lowercase UUID, else raise.

    Only the canonical form is accepted (not braces, not upper case, not URNs) so one
    case maps to exactly one folder and nothing like `../x` can reach `Path()`.
    """
    if not isinstance(case_id, str):
        raise InvalidCaseIdError(f"Case id must be text, not {type(case_id).__name__}.")
    try:
        parsed = uuid.UUID(case_id)
    except ValueError:
        raise InvalidCaseIdError(f"{case_id!r} is not a valid case id.") from None
    if str(parsed) != case_id:
        raise InvalidCaseIdError(f"{case_id!r} is not a valid case id.")
    return case_id


validate_image_id = validate_case_id


def is_canonical_uuid(value: str) -> bool:
    """True for a canonical lowercase UUID (what case and image ids must be)."""
    try:
        validate_case_id(value)
    except InvalidCaseIdError:
        return False
    return True
