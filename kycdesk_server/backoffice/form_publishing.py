"""Publishing a form version to every tablet (issue 17): the definition is checked —
JSON, the form schema (kycdesk.core.form_schema), and, when the publisher gives one, its
SHA-256 — before it is stored; a broken one is refused with the reason and nothing
changes. A stored definition reaches every device by its next pull (the published-forms
stream every pull merges by its token); the server checks submissions under it from then
on. A (form, version) is published once: the same definition again is the same
publication; another definition under a published version is refused (publish a new
version)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from kycdesk.core.form_schema import FormDefinition
from kycdesk.core.hashing import form_definition_sha256
from kycdesk_server.backoffice.assignments import InvalidActError, require_supervisor
from kycdesk_server.backoffice.audit import AuditLog
from kycdesk_server.backoffice.identity import Reviewer
from kycdesk_server.backoffice.review import ReviewConflictError
from kycdesk_server.database import Database
from kycdesk_server.forms import FormCatalogue
from kycdesk_server.storage import now

MAX_DEFINITION_BYTES = 1024 * 1024


@dataclass(frozen=True)
class PublishedForm:
    seq: int
    form_id: str
    version: str
    sha256: str
    published_by: str
    published_at: str


def _reason(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "the form"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"


def check_definition(raw: bytes | str | dict[str, Any], expected_sha256: str | None = None
                     ) -> tuple[FormDefinition, dict[str, Any], str]:
    """(definition, its JSON, its SHA-256), or InvalidActError saying what is wrong."""
    if isinstance(raw, dict):
        data = raw
    else:
        if len(raw) > MAX_DEFINITION_BYTES:
            raise InvalidActError("The form definition is larger than 1 MiB.")
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidActError(f"The file is not JSON: {exc}.") from None
    if not isinstance(data, dict):
        raise InvalidActError("A form definition is a JSON object.")
    digest = form_definition_sha256(data)
    if expected_sha256 is not None and expected_sha256.strip().lower() != digest:
        raise InvalidActError("The definition's SHA-256 is not the one given: the file "
                              "changed on the way or is not the one meant.")
    try:
        definition = FormDefinition.model_validate(data)
    except ValidationError as exc:
        raise InvalidActError(f"The form definition is not valid: {_reason(exc)}") from None
    return definition, data, digest


class FormPublisher:
    def __init__(self, db: Database, audit: AuditLog, forms: FormCatalogue) -> None:
        self.db, self.audit, self.forms = db, audit, forms

    def published(self) -> list[PublishedForm]:
        rows = self.db.execute("SELECT seq, form_id, version, sha256, published_by, "
                               "published_at FROM published_forms ORDER BY seq DESC"
                               ).fetchall()
        return [PublishedForm(*r) for r in rows]

    def publish(self, actor: Reviewer, raw: bytes | str | dict[str, Any], *,
                expected_sha256: str | None = None, address: str) -> PublishedForm:
        require_supervisor(actor)
        definition, data, digest = check_definition(raw, expected_sha256)
        with self.db.transaction():
            row = self.db.execute(
                "SELECT seq, form_id, version, sha256, published_by, published_at "
                "FROM published_forms WHERE form_id = ? AND version = ?",
                (definition.form_id, definition.version)).fetchone()
            if row is not None:
                if row[3] == digest:
                    return PublishedForm(*row)
                raise ReviewConflictError(
                    f"Version {definition.version} of {definition.form_id} was already "
                    "published with other content; publish it as a new version.")
            shipped = self.forms.get(definition.form_id, definition.version)
            if shipped is not None and shipped != definition:
                raise ReviewConflictError(
                    f"Version {definition.version} of {definition.form_id} ships with the "
                    "app with other content; publish it as a new version.")
            seq = int(self.db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM "
                                      "published_forms").fetchone()[0])
            published = PublishedForm(seq, definition.form_id, definition.version, digest,
                                      actor.username, now())
            self.db.execute(
                "INSERT INTO published_forms(seq, form_id, version, definition_json, "
                "sha256, published_by, published_at) VALUES (?,?,?,?,?,?,?)",
                (seq, definition.form_id, definition.version,
                 json.dumps(data, sort_keys=True, ensure_ascii=False), digest,
                 actor.username, published.published_at))
            self.audit.record("form.published", actor=actor, address=address,
                              object_type="form",
                              object_id=f"{definition.form_id}/{definition.version}",
                              detail={"sha256": digest, "seq": seq})
        self.forms.add(definition)
        return published
