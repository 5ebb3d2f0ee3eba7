"""Accepting a submission: the rules, once, for the HTTP route and `ingest`.

Idempotent by (case, revision): the same revision with the same body gives the same
receipt; other answers under a revision, or an older revision, are conflicts; every photo
the submission names must be held for the case with the same digest and server id.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from kycdesk.core.protocol import Submission
from kycdesk_server.storage import ServerStore, StoredSubmission


@dataclass(frozen=True)
class Accepted:
    stored: StoredSubmission
    new: bool            # False: the same revision and body were already held


@dataclass(frozen=True)
class Refused:
    status: int
    title: str
    detail: str
    missing: list[str] | None = None


def body_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def accept(store: ServerStore, case_id: str, submission: Submission,
           device_id: str) -> Accepted | Refused:
    """Blocking (the store): call it in a thread. The caller holds the case's lock and has
    checked the device may write the case."""
    body = submission.model_dump(mode="json")
    digest = body_hash(body)
    existing = store.submission(case_id)
    if existing is not None:
        if existing.revision == submission.revision:
            if existing.body_hash == digest:
                return Accepted(existing, new=False)
            return Refused(409, "Revision already submitted with other content",
                           f"Revision {submission.revision} was already submitted with "
                           "different answers.")
        if existing.revision > submission.revision:
            return Refused(409, "Older revision",
                           f"Revision {existing.revision} is already on the server.")
    held = {i.client_image_id: i for i in store.images(case_id)}
    missing = [i.client_image_id for i in submission.images
               if i.client_image_id not in held
               or held[i.client_image_id].sha256 != i.sha256
               or held[i.client_image_id].server_image_id != i.server_image_id]
    if missing:  # a conflict with what the server holds: upload them, submit again
        return Refused(409, "Photos missing",
                       f"The server does not hold {len(missing)} of the photos this "
                       "submission lists.", missing)
    try:
        stored = store.store_submission(case_id, submission.revision, body,
                                        body_hash=digest, device_id=device_id,
                                        server_image_ids=[i.server_image_id
                                                          for i in submission.images])
    except store.db.integrity_errors:
        # Another worker stored this revision a moment ago (the unique key said so): the
        # answer is the one it would get now — the same receipt, or a conflict.
        return accept(store, case_id, submission, device_id)
    return Accepted(stored, new=True)
