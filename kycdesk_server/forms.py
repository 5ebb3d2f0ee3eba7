"""The form definitions the server knows, by (form id, version): the same JSON files the
app ships (resources/forms), or the folder an operator names with `--forms`. Read through
the core's schema only (the server shares nothing else with the app). One catalogue per
store (`ServerStore.forms`): submissions are checked, the queue names the applicant and
the case page groups answers with the same definitions."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from kycdesk.core.form_schema import FormDefinition

# The app's definitions, beside the packages (not the app's resource finder: the server
# is never a frozen bundle).
FORMS_FOLDER = Path(__file__).resolve().parents[1] / "resources" / "forms"


class FormCatalogue:
    def __init__(self, folder: Path | None = None) -> None:
        """Every definition in `folder` (None: the app's own). A broken file is refused
        at start, naming the file: a server that half-knows a form would judge its
        submissions wrongly."""
        self.folder = folder or FORMS_FOLDER
        self._by_key: dict[tuple[str, str], FormDefinition] = {}
        for path in sorted(self.folder.glob("*.json")):
            try:
                definition = FormDefinition.model_validate(
                    json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, ValidationError) as exc:
                raise ValueError(f"form definition {path.name} is unusable: {exc}") from exc
            self._by_key[(definition.form_id, definition.version)] = definition

    def get(self, form_id: str | None, version: str | None) -> FormDefinition | None:
        if form_id is None or version is None:
            return None
        return self._by_key.get((form_id, version))

    def known(self) -> list[tuple[str, str]]:
        return sorted(self._by_key)
