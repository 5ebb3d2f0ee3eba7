"""The form definitions the server knows (the same files the app ships, read through the
core's schema only): the back office groups answers by step, names the applicant and
validates a submission with them."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from pydantic import ValidationError

from kycdesk.core.form_schema import FormDefinition

# The app's definitions, beside the packages (the server shares only kycdesk.core with
# the app, so not its resource finder; the server is never a frozen bundle).
FORMS_FOLDER = Path(__file__).resolve().parents[1] / "resources" / "forms"


class FormCatalogue:
    def __init__(self, definitions: list[FormDefinition]) -> None:
        self._by_key = {(d.form_id, d.version): d for d in definitions}

    @classmethod
    def load(cls, folder: Path) -> FormCatalogue:
        """Every valid definition in `folder`; a broken file is skipped (the app refuses
        to start on one: the server still shows the case, ungrouped)."""
        definitions = []
        for path in sorted(folder.glob("*.json")):
            try:
                definitions.append(FormDefinition.model_validate(
                    json.loads(path.read_text(encoding="utf-8"))))
            except (OSError, ValueError, ValidationError):
                continue
        return cls(definitions)

    def get(self, form_id: str | None, version: str | None) -> FormDefinition | None:
        if form_id is None or version is None:
            return None
        return self._by_key.get((form_id, version))


@functools.cache
def bundled_forms() -> FormCatalogue:
    """The definitions in the project's resources/forms (read once per process)."""
    return FormCatalogue.load(FORMS_FOLDER)
