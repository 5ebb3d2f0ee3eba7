"""Pull pages as the server sends them (built from the protocol's models, validated as a
reply off the wire is), for the device-side tests of two-way sync."""

from __future__ import annotations

import hashlib
import itertools
import json
import uuid
from pathlib import Path
from typing import Any

from kycdesk.core.hashing import form_definition_sha256
from kycdesk.core.protocol import PulledChange, PullReply

REPO_ROOT = Path(__file__).resolve().parents[1]
AT = "2026-06-01T09:00:00Z"
SUPERVISOR = "Sam Supervisor"


class Feed:
    """A device's feed on the server: numbered changes, pages with tokens."""

    def __init__(self) -> None:
        self._seq = itertools.count(1)
        self.token_number = 0

    def change(self, kind: str, case_id: str | None = None, **fields: Any) -> PulledChange:
        body: dict[str, Any] = {"seq": next(self._seq), "kind": kind, "case_id": case_id,
                                "at": fields.pop("at", AT), "by": fields.pop("by", SUPERVISOR)}
        body.update(fields)
        # Through JSON, as the device receives it.
        return PulledChange.model_validate_json(json.dumps(body))

    def page(self, *changes: PulledChange, more: bool = False) -> PullReply:
        self.token_number += 1
        body = {"token": f"t{self.token_number}",
                "changes": [c.model_dump(mode="json", exclude_none=True) for c in changes],
                "more": more}
        return PullReply.model_validate_json(json.dumps(body))


def new_case_id() -> str:
    return str(uuid.uuid4())


def assigned(feed: Feed, case_id: str, **fields: Any) -> PulledChange:
    defaults: dict[str, Any] = {
        "reference_number": "KYC-ASSIGNED-1", "applicant_name": "Ada Lovelace",
        "due_date": "2026-06-10", "form_id": "individual_kyc", "form_version": "3",
        "form": {"applicant.first_name": "Ada", "applicant.last_name": "Lovelace"},
        "prefilled": ["applicant.first_name", "applicant.last_name"],
        "note": "Visit after 5 pm"}
    defaults.update(fields)
    return feed.change("assigned", case_id, **defaults)


def photo(slot: str | None = "id_front", content: bytes = b"office photo") -> dict[str, Any]:
    return {"client_image_id": str(uuid.uuid4()), "server_image_id": uuid.uuid4().hex[:16],
            "sha256": hashlib.sha256(content).hexdigest(), "byte_size": len(content),
            "slot": slot}


def shipped_form(version: str = "3") -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(
        (REPO_ROOT / "resources" / "forms" / f"individual_kyc_v{version}.json").read_text())
    return loaded


def form_change(feed: Feed, definition: dict[str, Any], *, sha256: str | None = None
                ) -> PulledChange:
    return feed.change("form", None, form_id=definition.get("form_id"),
                       form_version=definition.get("version"), definition=definition,
                       definition_sha256=sha256 or form_definition_sha256(definition))
