"""The form definitions the server knows (the same JSON files the app ships:
resources/forms, or the folder given with `--forms`), by (form id, version)."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from kycdesk.core.form_schema import FormDefinition
from kycdesk.resources import resource_path


class FormCatalogue:
    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or resource_path("forms")
        self._by_key: dict[tuple[str, str], FormDefinition] = {}
        for path in sorted(self.folder.glob("*.json")):
            try:
                definition = FormDefinition.model_validate(
                    json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, ValidationError) as exc:
                raise ValueError(f"form definition {path.name} is unusable: {exc}") from exc
            self._by_key[(definition.form_id, definition.version)] = definition

    def get(self, form_id: str, version: str) -> FormDefinition | None:
        return self._by_key.get((form_id, version))

    def known(self) -> list[tuple[str, str]]:
        return sorted(self._by_key)
