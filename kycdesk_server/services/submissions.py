"""Accepting a submission: the rules, once, for the HTTP route and `ingest`.

Idempotent by (case, revision): the same revision with the same body gives the same
receipt; other answers under a revision, or an older revision, are conflicts (409); every
photo the submission names must be held for the case with the same digest and server id
(409 listing the missing ones). Blocking (the store): call from a worker thread.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from kycdesk.core.protocol import Submission
from kycdesk_server.devices import DeviceRegistry
from kycdesk_server.errors import RequestRefusedError
from kycdesk_server.locks import KeyedLocks
from kycdesk_server.services.devices import DeviceService
from kycdesk_server.services.validation import FormValidation, ValidationFindings
from kycdesk_server.storage import ServerStore, StoredImage, StoredSubmission


@dataclass(frozen=True)
class Accepted:
    stored: StoredSubmission
    new: bool            # False: the same revision and body were already held


def body_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


class SubmissionService:
    def __init__(self, store: ServerStore, *, devices: DeviceService | None = None,
                 case_locks: KeyedLocks | None = None,
                 validation: FormValidation | None = None) -> None:
        self.store = store
        self.devices = devices or DeviceService(DeviceRegistry(store.db))
        self.case_locks = case_locks or KeyedLocks()
        self.validation = validation or FormValidation(store.forms)

    async def submit(self, case_id: str, submission: Submission, device_id: str
                     ) -> Accepted:
        """From the event loop: the case becomes the device's (403 if another's), then
        one submission of it at a time in this process."""
        await asyncio.to_thread(self.devices.claim, case_id, device_id)
        async with self.case_locks.hold(f"submission:{case_id}"):
            return await asyncio.to_thread(self.accept, case_id, submission, device_id)

    def accept(self, case_id: str, submission: Submission, device_id: str) -> Accepted:
        """The caller holds the case's lock and has checked the device may write it."""
        self.validation.refuse_unfit(submission)
        store = self.store
        body = submission.model_dump(mode="json")
        digest = body_hash(body)
        existing = store.submission(case_id)
        if existing is not None:
            if existing.revision == submission.revision:
                if existing.body_hash == digest:
                    return Accepted(existing, new=False)
                raise RequestRefusedError(
                    409, "Revision already submitted with other content",
                    f"Revision {submission.revision} was already submitted with different "
                    "answers.")
            if existing.revision > submission.revision:
                raise RequestRefusedError(409, "Older revision",
                                          f"Revision {existing.revision} is already on the "
                                          "server.")
        held = {i.client_image_id: i for i in store.images(case_id)}
        missing = [i.client_image_id for i in submission.images
                   if i.client_image_id not in held
                   or held[i.client_image_id].sha256 != i.sha256
                   or held[i.client_image_id].server_image_id != i.server_image_id]
        if missing:  # a conflict with what the server holds: upload them, submit again
            raise RequestRefusedError(409, "Photos missing",
                                      f"The server does not hold {len(missing)} of the "
                                      "photos this submission lists.", missing=missing)
        try:
            stored = store.store_submission(case_id, submission.revision, body,
                                            body_hash=digest, device_id=device_id,
                                            server_image_ids=[i.server_image_id
                                                              for i in submission.images])
        except store.db.integrity_errors:
            # Another worker stored this revision a moment ago (the unique key said so):
            # the answer is the one it would get now — the same receipt, or a conflict.
            return self.accept(case_id, submission, device_id)
        return Accepted(stored, new=True)

    def current(self, case_id: str, device_id: str) -> StoredSubmission:
        """The case's latest accepted revision (403 another device's, 404 if none)."""
        self.devices.check(case_id, device_id)
        existing = self.store.submission(case_id)
        if existing is None:
            raise RequestRefusedError(404, "No submission",
                                      "The server holds no submission for this case.")
        return existing

    def held_images(self, case_id: str, device_id: str) -> list[StoredImage]:
        """The photos held for the case (403 if it is another device's)."""
        self.devices.check(case_id, device_id)
        return self.store.images(case_id)

    def validation_findings(self, case_id: str, revision: int) -> ValidationFindings:
        """What the form's rules say about one stored revision (404 if there is none);
        for the review side. Judged with the day it was accepted as "today"."""
        found = self.store.revision_body(case_id, revision)
        if found is None:
            raise RequestRefusedError(404, "No such revision",
                                      f"The server holds no revision {revision} of this case.")
        body, accepted_at = found
        return self.validation.findings(body, date.fromisoformat(accepted_at[:10]))
