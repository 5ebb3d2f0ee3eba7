"""Loads every form definition in resources/forms, and migrates drafts between versions."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from kycdesk.core.form_schema import FormDefinition
from kycdesk.resources import resource_path

DEFAULT_FORM_ID = "individual_kyc"


class FormDefinitionError(Exception):
    """A form definition file is unusable; the message names the file and the problem."""


@dataclass(frozen=True)
class MigratedDraft:
    values: dict[str, Any]
    renamed: dict[str, str] = field(default_factory=dict)
    kept_unknown: list[str] = field(default_factory=list)


def _version_key(version: str) -> tuple[int, ...] | tuple[str]:
    try:
        return tuple(int(part) for part in version.split("."))
    except ValueError:
        return (version,)


def load_definition(path: Path) -> FormDefinition:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise FormDefinitionError(f"{path.name}: cannot be read ({exc})") from exc
    except json.JSONDecodeError as exc:
        raise FormDefinitionError(
            f"{path.name}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from exc
    try:
        return FormDefinition.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or '(top)'}: {error['msg']}"
            for error in exc.errors()[:5])
        raise FormDefinitionError(f"{path.name}: {problems}") from exc


class FormRegistry:
    def __init__(self, definitions: Iterable[FormDefinition]) -> None:
        self._by_id: dict[str, dict[str, FormDefinition]] = {}
        for definition in definitions:
            versions = self._by_id.setdefault(definition.form_id, {})
            if definition.version in versions:
                raise FormDefinitionError(
                    f"{definition.form_id} version {definition.version} is defined twice")
            versions[definition.version] = definition

    @classmethod
    def load(cls, folder: Path | None = None) -> FormRegistry:
        folder = folder or resource_path("forms")
        files = sorted(folder.glob("*.json"))
        if not files:
            raise FormDefinitionError(f"no form definitions found in {folder}")
        return cls(load_definition(path) for path in files)

    @classmethod
    def load_with_pushed(cls, pushed: Iterable[FormDefinition],
                         folder: Path | None = None) -> FormRegistry:
        """The shipped forms plus those the office pushed (checked by the store when
        they arrived: `LocalStore.pushed_forms()`); a shipped version wins over a pushed
        one of the same number (a shipped file is never rewritten)."""
        shipped = cls.load(folder)
        extra = [d for d in pushed if d.version not in shipped.versions(d.form_id)]
        return cls([*(shipped.get(form_id, version) for form_id in shipped.form_ids()
                      for version in shipped.versions(form_id)), *extra])

    def form_ids(self) -> list[str]:
        return sorted(self._by_id)

    def versions(self, form_id: str) -> list[str]:
        return sorted(self._by_id.get(form_id, {}), key=_version_key)

    def latest(self, form_id: str = DEFAULT_FORM_ID) -> FormDefinition:
        versions = self.versions(form_id)
        if not versions:
            raise FormDefinitionError(f"no definition of form {form_id!r}")
        return self._by_id[form_id][versions[-1]]

    def get(self, form_id: str, version: str) -> FormDefinition:
        try:
            return self._by_id[form_id][version]
        except KeyError:
            raise FormDefinitionError(
                f"form {form_id!r} version {version!r} is not installed") from None

    def migrate(self, form_id: str, values: dict[str, Any], from_version: str,
                to_version: str) -> MigratedDraft:
        """Apply each version's migration in turn; unknown keys stay in the values."""
        result = dict(values)
        renamed: dict[str, str] = {}
        versions = self.versions(form_id)
        if from_version not in versions or to_version not in versions:
            raise FormDefinitionError(
                f"cannot migrate {form_id} from version {from_version} to {to_version}")
        start, end = versions.index(from_version), versions.index(to_version)
        if start > end:
            raise FormDefinitionError("drafts are never migrated to an older version")
        current = from_version
        for version in versions[start + 1:end + 1]:
            definition = self._by_id[form_id][version]
            for migration in definition.migrations:
                if migration.from_version != current:
                    continue
                for old, new in migration.rename.items():
                    if old in result and new not in result:
                        result[new] = result.pop(old)
                        renamed[old] = new
            current = version
        target_keys = {f.key for f in self.get(form_id, to_version).fields()}
        kept = sorted(k for k in result if k not in target_keys)
        return MigratedDraft(values=result, renamed=renamed, kept_unknown=kept)
