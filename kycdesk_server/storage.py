"""The reference server's store: its database (SQLite in the data folder, or PostgreSQL:
see database.py) plus photo files written temp -> fsync -> rename."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kycdesk.core.form_schema import FormDefinition
from kycdesk_server import feed, schema
from kycdesk_server.backoffice import intake
from kycdesk_server.blobs import (
    LocalPartialBytes,
    LocalPhotoBlobs,
    PartialBytes,
    PhotoBlobs,
    S3PartialBytes,
    S3PhotoBlobs,
    S3Settings,
)
from kycdesk_server.database import PoolSettings, open_database
from kycdesk_server.errors import StorageUnavailableError
from kycdesk_server.forms import FormCatalogue


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ImageConflictError(Exception):
    def __init__(self, title: str, detail: str) -> None:
        super().__init__(detail)
        self.title, self.detail = title, detail


@dataclass(frozen=True)
class StoredImage:
    client_image_id: str
    server_image_id: str
    sha256: str
    byte_size: int


@dataclass(frozen=True)
class StoredSubmission:
    case_id: str
    revision: int
    body_hash: str
    device_id: str
    receipt_id: str
    accepted_at: str
    server_image_ids: list[str]


class ServerStore:
    def __init__(self, data_dir: Path, database_url: str | None = None, *,
                 s3: S3Settings | None = None, pool: PoolSettings | None = None,
                 forms_dir: Path | None = None) -> None:
        self.root = data_dir
        # The form definitions submissions are checked and reviewed with (one catalogue).
        self.forms = FormCatalogue(forms_dir)
        self.tmp_dir = data_dir / "tmp"
        # Applicants' data: the server's folders and database are its owner's alone.
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        data_dir.chmod(0o700)
        self.tmp_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        database = data_dir / "server.sqlite3"
        if database_url is None and not database.exists():  # -wal/-shm take its mode
            os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        for leftover in self.tmp_dir.iterdir():  # a crash mid-upload: never evidence
            leftover.unlink(missing_ok=True)
        self.db = open_database(database_url, data_dir, pool=pool)
        self.lock = self.db.lock  # kept for callers serialising a read-then-write
        schema.migrate(self.db)
        self.forms.published = self.published_form
        for (text,) in self.db.execute("SELECT definition_json FROM published_forms "
                                       "ORDER BY seq").fetchall():
            self.forms.add(FormDefinition.model_validate(json.loads(text)))
        self.s3 = s3
        self.blobs: PhotoBlobs = S3PhotoBlobs(s3, data_dir) if s3 is not None \
            else LocalPhotoBlobs(data_dir)

    def published_form(self, form_id: str, version: str) -> FormDefinition | None:
        """A form definition published in the office (checked when it was published)."""
        row = self.db.execute("SELECT definition_json FROM published_forms "
                              "WHERE form_id = ? AND version = ?",
                              (form_id, version)).fetchone()
        return FormDefinition.model_validate(json.loads(row[0])) if row else None

    def partial_bytes(self, chunks: Callable[[str], list[tuple[int, int]]]) -> PartialBytes:
        """Where partial uploads keep their bytes (beside the photos)."""
        if self.s3 is not None:
            return S3PartialBytes(self.s3, chunks)
        return LocalPartialBytes(self.root / "uploads")

    def close(self) -> None:
        self.db.close()

    # -- images -----------------------------------------------------------------------
    def image_anywhere(self, client_image_id: str) -> tuple[str, StoredImage] | None:
        row = self.db.execute(
            "SELECT case_id, client_image_id, server_image_id, sha256, byte_size "
            "FROM images WHERE client_image_id = ?", (client_image_id,)).fetchone()
        return (row[0], StoredImage(*row[1:])) if row else None

    def images(self, case_id: str) -> list[StoredImage]:
        rows = self.db.execute(
            "SELECT client_image_id, server_image_id, sha256, byte_size FROM images "
            "WHERE case_id = ? ORDER BY stored_at", (case_id,)).fetchall()
        return [StoredImage(*r) for r in rows]

    def commit_image(self, case_id: str, client_image_id: str, tmp: Path, sha256: str,
                     byte_size: int) -> StoredImage:
        """Verified file -> held bytes (durable) -> row: nothing is acknowledged that is not
        stored. Caller holds the per-image lock."""
        where = self.blobs.store(case_id, client_image_id, tmp)
        stored = StoredImage(client_image_id, f"srv-img-{uuid.uuid4().hex[:16]}", sha256,
                             byte_size)
        self.db.execute(
            "INSERT INTO images(case_id, client_image_id, server_image_id, sha256, "
            "byte_size, path, stored_at) VALUES (?,?,?,?,?,?,?)",
            (case_id, client_image_id, stored.server_image_id, sha256, byte_size, where,
             now()))
        return stored

    def hold_image(self, case_id: str, client_image_id: str, file: Path, sha256: str,
                   byte_size: int) -> StoredImage:
        """Hold a verified photo file as (case, client image id), once: the same id with the
        same digest is the photo already held (the file is dropped); another case or
        another digest under the id is an ImageConflictError. Blocking: a thread."""
        existing = self.image_anywhere(client_image_id)
        if existing is None:
            try:
                return self.commit_image(case_id, client_image_id, file, sha256, byte_size)
            except self.db.integrity_errors:  # another request held it first: judge theirs
                existing = self.image_anywhere(client_image_id)
                if existing is None:
                    raise
        owner, image = existing
        if owner != case_id:
            raise ImageConflictError("Image belongs to another case",
                                     "This image id was already uploaded for another case.")
        if image.sha256 != sha256:
            raise ImageConflictError("Different photo under the same id",
                                     "The server already holds a different photo with this "
                                     "id.")
        file.unlink(missing_ok=True)  # the same photo: one copy
        return image

    # -- submissions ------------------------------------------------------------------
    def submission(self, case_id: str) -> StoredSubmission | None:
        row = self.db.execute(
            "SELECT case_id, revision, body_hash, device_id, receipt_id, accepted_at, "
            "server_image_ids FROM submissions WHERE case_id = ?", (case_id,)).fetchone()
        if row is None:
            return None
        return StoredSubmission(case_id=row[0], revision=row[1], body_hash=row[2],
                                device_id=row[3], receipt_id=row[4], accepted_at=row[5],
                                server_image_ids=json.loads(row[6]))

    def store_submission(self, case_id: str, revision: int, body: dict[str, Any], *,
                         body_hash: str, device_id: str,
                         server_image_ids: list[str]) -> StoredSubmission:
        stored = StoredSubmission(case_id, revision, body_hash, device_id,
                                  f"rcpt-{uuid.uuid4().hex[:16]}", now(), server_image_ids)
        with self.db.transaction():
            row = (case_id, revision, body_hash, json.dumps(body, sort_keys=True),
                   device_id, stored.receipt_id, stored.accepted_at,
                   json.dumps(server_image_ids))
            # Every revision is kept; the primary key (case, revision) refuses a
            # second body for a revision inside this transaction — never replaced.
            self.db.execute("INSERT INTO submission_revisions(case_id, revision, "
                            "body_hash, body_json, device_id, receipt_id, accepted_at, "
                            "server_image_ids) VALUES (?,?,?,?,?,?,?,?)", row)
            # The current revision (what GET answers); the caller checked it is newer.
            self.db.execute(
                "INSERT INTO submissions(case_id, revision, body_hash, body_json, "
                "device_id, receipt_id, accepted_at, server_image_ids) "
                "VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (case_id) DO UPDATE SET "
                "revision = excluded.revision, body_hash = excluded.body_hash, "
                "body_json = excluded.body_json, device_id = excluded.device_id, "
                "receipt_id = excluded.receipt_id, accepted_at = excluded.accepted_at, "
                "server_image_ids = excluded.server_image_ids", row)
            self.db.execute("INSERT INTO submission_log VALUES (?,?,?,?)",
                            (case_id, revision, stored.receipt_id, stored.accepted_at))
            intake.receive(self.db, case_id, revision, body, device_id=device_id,
                           accepted_at=stored.accepted_at, forms=self.forms)
            # The device's own accepted case is in its held set from now on (it adds it
            # to its digest when it stores this receipt); already there: no change.
            feed.hold(self.db, device_id, case_id, +1)
        return stored

    def revisions(self, case_id: str) -> list[StoredSubmission]:
        """Every revision received for a case, oldest first (admin: `revisions`)."""
        rows = self.db.execute(
            "SELECT case_id, revision, body_hash, device_id, receipt_id, accepted_at, "
            "server_image_ids FROM submission_revisions WHERE case_id = ? "
            "ORDER BY revision", (case_id,)).fetchall()
        return [StoredSubmission(case_id=r[0], revision=r[1], body_hash=r[2], device_id=r[3],
                                 receipt_id=r[4], accepted_at=r[5],
                                 server_image_ids=json.loads(r[6])) for r in rows]

    def revision_body(self, case_id: str, revision: int) -> tuple[dict[str, Any], str] | None:
        """One stored revision's body (as submitted) and when it was accepted."""
        row = self.db.execute("SELECT body_json, accepted_at FROM submission_revisions "
                              "WHERE case_id = ? AND revision = ?",
                              (case_id, revision)).fetchone()
        return (json.loads(row[0]), str(row[1])) if row else None

    def readiness_problem(self) -> str | None:
        """Why this store cannot take writes now (None: it can). Blocking: a thread."""
        try:
            self.db.execute("SELECT 1").fetchone()
        except StorageUnavailableError:
            return "the database does not answer"
        try:
            self.blobs.probe()
        except StorageUnavailableError as exc:
            return "the photo storage is full" if exc.disk_full \
                else "the photo storage does not answer"
        return None

    # -- inspection (control endpoint, tests) -----------------------------------------
    def state(self) -> dict[str, Any]:
        images = self.db.execute(
            "SELECT case_id, client_image_id, sha256, byte_size FROM images").fetchall()
        submissions = self.db.execute(
            "SELECT case_id, revision, receipt_id FROM submissions").fetchall()
        log = self.db.execute("SELECT case_id, revision FROM submission_log").fetchall()
        try:
            files: list[str] | None = self.blobs.names()
        except StorageUnavailableError:
            files = None  # the photo storage does not answer
        return {"images": [dict(zip(("case_id", "client_image_id", "sha256", "byte_size"),
                                    r, strict=True)) for r in images],
                "submissions": [dict(zip(("case_id", "revision", "receipt_id"), r,
                                         strict=True)) for r in submissions],
                "submission_log": [list(r) for r in log],
                "files": files}
