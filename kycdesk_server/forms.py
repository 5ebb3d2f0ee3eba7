"""The form definitions the server knows, by (form id, version): the same JSON files the
app ships (resources/forms), or the folder an operator names with `--forms`. Read through
the core's schema only (the server shares nothing else with the app). One catalogue per
store (`ServerStore.forms`): submissions are checked, the queue names the applicant and
the case page groups answers with the same definitions."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

from pydantic import ValidationError

from kycdesk.core.form_schema import FormDefinition

# The app's definitions: beside the packages in a checkout, or where an installed wheel
# put them (pyproject's data-files). Not the app's resource finder: the server is never a
# frozen bundle.
FORMS_FOLDERS = (Path(__file__).resolve().parents[1] / "resources" / "forms",
                 Path(sys.prefix) / "share" / "kycdesk" / "forms")


def default_forms_folder() -> Path:
    for folder in FORMS_FOLDERS:
        if folder.is_dir():
            return folder
    raise ValueError("no form definitions found (looked in "
                     + ", ".join(str(f) for f in FORMS_FOLDERS)
                     + "): reinstall kycdesk-server or name a folder with --forms")


class FormCatalogue:
    def __init__(self, folder: Path | None = None) -> None:
        """Every definition in `folder` (None: the app's own). A broken file is refused
        at start, naming the file: a server that half-knows a form would judge its
        submissions wrongly."""
        self.folder = folder or default_forms_folder()
        self._by_key: dict[tuple[str, str], FormDefinition] = {}
        for path in sorted(self.folder.glob("*.json")):
            try:
                definition = FormDefinition.model_validate(
                    json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, ValidationError) as exc:
                raise ValueError(f"form definition {path.name} is unusable: {exc}") from exc
            self._by_key[(definition.form_id, definition.version)] = definition
        if not self._by_key:
            raise ValueError(f"no form definitions (*.json) in {self.folder}")

        # Definitions published in the office (schema 6) are kept in the database: the
        # store names where to look for one this catalogue has not seen (another worker
        # may have published it).
        self.published: Callable[[str, str], FormDefinition | None] | None = None

    def get(self, form_id: str | None, version: str | None) -> FormDefinition | None:
        if form_id is None or version is None:
            return None
        found = self._by_key.get((form_id, version))
        if found is None and self.published is not None:
            found = self.published(form_id, version)
            if found is not None:
                self._by_key[(form_id, version)] = found
        return found

    def add(self, definition: FormDefinition) -> None:
        """A definition published in the office (checked and stored by the caller)."""
        self._by_key[(definition.form_id, definition.version)] = definition

    def known(self) -> list[tuple[str, str]]:
        return sorted(self._by_key)
