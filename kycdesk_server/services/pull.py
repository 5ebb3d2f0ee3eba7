"""The device's pull (docs/sync-protocol.md "Pull"): the changes of its feed after its
token, the form definitions published since, a new token; 412 when the cases it says it
holds are not the ones the server gives it; a resync (every held case's state, paged).

Tokens are opaque to the device; here they are
- `f1.<feed seq>.<forms seq>`: applied up to that row of the device's feed and of the
  published forms;
- `r1.<feed seq>.<last case id>`: a resync under way (the feed position it started at).
Cost: the device's `device_held` row, the rows after the token through the (device_id,
seq) key, the forms after the token through theirs — O(changes), never O(cases held).
Blocking (the database): call from a worker thread.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kycdesk.core.protocol import PulledChange, PullReply, PullRequest
from kycdesk_server import case_state, feed
from kycdesk_server.blobs import PhotoBlobs
from kycdesk_server.database import Database
from kycdesk_server.errors import RequestRefusedError
from kycdesk_server.feed import now

_FEED_TOKEN = re.compile(r"^f1\.(\d{1,18})\.(\d{1,18})$")
_RESYNC_TOKEN = re.compile(r"^r1\.(\d{1,18})\.(.{1,100})$")


@dataclass(frozen=True)
class Position:
    feed_seq: int
    forms_seq: int

    @property
    def token(self) -> str:
        return f"f1.{self.feed_seq}.{self.forms_seq}"


def _held_cases_differ(detail: str) -> RequestRefusedError:
    return RequestRefusedError(
        412, "Held cases differ", detail + " Pull again with resync: true and no token.",
        resync=True)


@dataclass(frozen=True)
class HeldPhoto:
    where: str
    sha256: str
    byte_size: int


class PullService:
    def __init__(self, db: Database, blobs: PhotoBlobs | None = None) -> None:
        self.db = db
        self.blobs = blobs

    # -- photos of the cases the device holds ------------------------------------------
    def photo(self, device_id: str, case_id: str, client_image_id: str) -> HeldPhoto:
        """A photo of a case this device holds or owns (403 otherwise, 404 if the server
        holds no such photo)."""
        owner = self.db.execute("SELECT device_id FROM case_owners WHERE case_id = ?",
                                (case_id,)).fetchone()
        if not feed.holds(self.db, device_id, case_id) and \
                (owner is None or str(owner[0]) != device_id):
            raise RequestRefusedError(403, "Another device's case",
                                      "This device does not hold this case.")
        row = self.db.execute("SELECT path, sha256, byte_size FROM images "
                              "WHERE case_id = ? AND client_image_id = ?",
                              (case_id, client_image_id)).fetchone()
        if row is None:
            raise RequestRefusedError(404, "No such photo",
                                      "The server holds no such photo of this case.")
        return HeldPhoto(str(row[0]), str(row[1]), int(row[2]))

    def photo_bytes(self, photo: HeldPhoto, start: int, end: int) -> Iterator[bytes]:
        """Bytes [start, end) through the photo storage (files or S3): iterate in a
        thread."""
        assert self.blobs is not None
        return self.blobs.read(photo.where, start, end)

    def pull(self, device_id: str, request: PullRequest) -> PullReply:
        token = request.token
        if token is not None and (found := _RESYNC_TOKEN.match(token)):
            return self._resync(device_id, found.group(2), int(found.group(1)),
                                request.limit)
        if token is None and request.resync:
            return self._resync(device_id, "", feed.held(self.db, device_id).feed_seq,
                                request.limit)
        position = Position(0, 0)
        if token is not None:
            match = _FEED_TOKEN.match(token)
            if match is None:
                raise _held_cases_differ("The server does not know this pull token.")
            position = Position(int(match.group(1)), int(match.group(2)))
        return self._changes(device_id, position, request)

    # -- the feed ---------------------------------------------------------------------
    def _changes(self, device_id: str, position: Position, request: PullRequest
                 ) -> PullReply:
        current = feed.held(self.db, device_id)
        if position.feed_seq > current.feed_seq:
            raise _held_cases_differ("The pull token is ahead of this server's records "
                                     "(a restored server?).")
        digest, count = feed.held_as_of(self.db, device_id, current, position.feed_seq)
        if (digest, count) != (request.held_digest, request.held_count):
            raise _held_cases_differ("The cases this device holds do not match the "
                                     "server's records.")
        if position.feed_seq > current.pulled_seq:
            feed.record_pulled(self.db, device_id, position.feed_seq)
        forms = self._forms_after(position.forms_seq, request.limit + 1)
        forms_more = len(forms) > request.limit
        forms = forms[:request.limit]
        room = request.limit - len(forms)
        rows = feed.rows_after(self.db, device_id, position.feed_seq, current.feed_seq,
                               room) if room else []
        changes = [*forms, *[self._change(r.seq, r.kind, r.case_id, r.payload, r.created_at)
                             for r in rows]]
        after = Position(rows[-1].seq if rows else position.feed_seq,
                         forms[-1].seq if forms else position.forms_seq)
        return PullReply(token=after.token, changes=changes,
                         more=forms_more or after.feed_seq < current.feed_seq)

    def _forms_after(self, seq: int, limit: int) -> list[PulledChange]:
        rows = self.db.execute(
            "SELECT seq, form_id, version, definition_json, sha256, published_by, "
            "published_at FROM published_forms WHERE seq > ? ORDER BY seq LIMIT ?",
            (seq, limit)).fetchall()
        return [PulledChange(seq=int(r[0]), kind="form", at=r[6], by=r[5], form_id=r[1],
                             form_version=r[2], definition=json.loads(r[3]),
                             definition_sha256=r[4]) for r in rows]

    @staticmethod
    def _change(seq: int, kind: str, case_id: str | None, payload: dict[str, Any],
                created_at: str) -> PulledChange:
        payload = dict(payload)
        payload.setdefault("at", created_at)
        if not payload["at"]:
            payload["at"] = created_at
        return PulledChange.model_validate({**payload, "seq": seq, "kind": kind,
                                            "case_id": case_id})

    # -- resync -----------------------------------------------------------------------
    def _resync(self, device_id: str, after_case: str, start_seq: int, limit: int
                ) -> PullReply:
        """One page of the whole state of every case the device should hold (by case
        id), then a token at the feed position the resync started from: changes made
        meanwhile come after it (applied again, they change nothing)."""
        rows = self.db.execute(
            "SELECT case_id FROM device_cases WHERE device_id = ? AND case_id > ? "
            "ORDER BY case_id LIMIT ?", (device_id, after_case, limit + 1)).fetchall()
        case_ids = [str(r[0]) for r in rows[:limit]]
        stamp = now()
        changes: list[PulledChange] = []
        for case_id in case_ids:
            changes.append(self._change(len(changes) + 1, "case_state", case_id,
                                        case_state.snapshot(self.db, case_id), stamp))
            # A handover this device still owes (its handover_out lies before the token
            # the resync ends with): said again, or the case would never move on.
            owed = self.db.execute(
                "SELECT note FROM handovers WHERE case_id = ? AND from_device = ? "
                "AND state = 'handing_out'", (case_id, device_id)).fetchone()
            if owed is not None:
                revision, _ = case_state.current_answers(self.db, case_id)
                changes.append(self._change(len(changes) + 1, "handover_out", case_id,
                                            {"revision": revision, "note": owed[0]},
                                            stamp))
        if len(rows) > limit:
            return PullReply(token=f"r1.{start_seq}.{case_ids[-1]}", changes=changes,
                             more=True)
        # Forms from the beginning again: the device checks each by its hash (known
        # ones change nothing), and a device that lost its store gets them back.
        return PullReply(token=Position(start_seq, 0).token, changes=changes, more=False)
