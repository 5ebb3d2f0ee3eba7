"""LocalStore: the store's synchronous API on one writing connection.

Used directly by command-line tools and tests, and by the persistence writer thread
(the GUI never calls it directly: it goes through `writer.PersistenceWriter`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from kycdesk.paths import DataPaths, ensure_private_dir
from kycdesk.persistence import cases, events, forms, images, recovery, schema
from kycdesk.persistence.db import Connection
from kycdesk.persistence.errors import DatabaseTooNewError, StorageUnavailableError, StoreError
from kycdesk.persistence.imagecheck import ImageLimits
from kycdesk.persistence.records import (
    CaseRecord,
    CaseStatus,
    CaseSummary,
    FormValues,
    ImageRecord,
    Location,
)

log = logging.getLogger(__name__)


def open_connection(paths: DataPaths, *, writer: bool, role: str) -> Connection:
    """Open and check a connection in the calling thread; migrate if it writes.

    The file is checked to be SQLite and of a known schema version *before* anything is
    written to it (WAL mode and migrations write): a damaged or newer database is
    reported, never overwritten.
    """
    if writer:
        try:
            ensure_private_dir(paths.root)
            ensure_private_dir(paths.cases_dir)
        except OSError as exc:
            raise StorageUnavailableError(
                f"The data folder {paths.root} cannot be created ({exc.strerror}).") from exc
    schema.check_header(paths.database)
    conn = Connection(paths.database, role=role, writer=writer)
    try:
        version = schema.user_version(conn)
        if version > schema.LATEST_VERSION:
            raise DatabaseTooNewError(
                f"This database was written by a newer kycdesk (schema {version}, this "
                f"app knows {schema.LATEST_VERSION}). Install the newer version; nothing "
                "was changed.")
        conn.configure()
        if writer:
            schema.migrate(conn)
        elif version < schema.LATEST_VERSION:
            raise StoreError("The database has not been prepared yet (open the writer first).")
    except BaseException:
        conn.close()
        raise
    return conn


class LocalStore:
    def __init__(self, paths: DataPaths, *, image_limits: ImageLimits | None = None) -> None:
        self.paths = paths
        self.image_limits = image_limits or ImageLimits()
        self.conn = open_connection(paths, writer=True, role="writer")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> LocalStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- cases -----------------------------------------------------------------------
    def create_case(self, *, reference_number: str | None = None, form_id: str | None = None,
                    form_version: str | None = None, case_id: str | None = None) -> str:
        case_id = cases.insert_case(self.conn, case_id=case_id,
                                    reference_number=reference_number, form_id=form_id,
                                    form_version=form_version)
        try:
            ensure_private_dir(self.paths.case_dir(case_id))
        except OSError as exc:
            # The row is committed; the folder is created again on the first photo.
            log.warning("case folder for %s not created yet: %s", case_id, exc)
        return case_id

    def set_status(self, case_id: str, status: CaseStatus, *, error: str | None = None,
                   error_kind: str | None = None) -> None:
        cases.set_status(self.conn, case_id, status, error=error, error_kind=error_kind)

    def set_current_step(self, case_id: str, step: str) -> None:
        cases.set_current_step(self.conn, case_id, step)

    def set_reference_number(self, case_id: str, reference_number: str | None) -> None:
        cases.set_reference_number(self.conn, case_id, reference_number)

    def append_event(self, case_id: str | None, kind: str,
                     detail: dict[str, Any] | None = None) -> int:
        with self.conn.transaction():
            return events.append_event(self.conn, case_id, kind, detail)

    def load_case(self, case_id: str) -> CaseRecord:
        return cases.load_case(self.conn, case_id)

    def list_cases(self, *, limit: int = 100, offset: int = 0,
                   status: CaseStatus | None = None, search: str | None = None
                   ) -> list[CaseSummary]:
        return cases.list_cases(self.conn, limit=limit, offset=offset, status=status,
                                search=search)

    # -- forms -----------------------------------------------------------------------
    def append_edit(self, case_id: str, field_key: str, value: Any) -> int:
        return forms.append_edit(self.conn, case_id, field_key, value)

    def save_form(self, case_id: str, form: FormValues, form_version: str | None = None,
                  applicant_name: str | None = None) -> int:
        return forms.save_form(self.conn, case_id, form, form_version, applicant_name)

    # -- images ----------------------------------------------------------------------
    def add_image(self, case_id: str, source: Path, *, slot: str | None = None,
                  location: Location | None = None, captured_at: str | None = None,
                  origin: str = "import", client_image_id: str | None = None) -> ImageRecord:
        return images.add_image(self.conn, self.paths, case_id, source, slot=slot,
                                location=location, captured_at=captured_at, origin=origin,
                                client_image_id=client_image_id, limits=self.image_limits)

    def commit_prepared_image(self, prepared: images.PreparedImage, *, slot: str | None,
                              location: Location | None, captured_at: str | None,
                              origin: str, client_image_id: str | None) -> ImageRecord:
        return images.commit_image(self.conn, self.paths, prepared, slot=slot,
                                   location=location, captured_at=captured_at, origin=origin,
                                   client_image_id=client_image_id)

    def delete_image(self, image_id: int) -> None:
        images.delete_image(self.conn, self.paths, image_id)

    def list_images(self, case_id: str) -> list[ImageRecord]:
        return images.list_images(self.conn, case_id)

    # -- recovery --------------------------------------------------------------------
    def recover(self, *, full_integrity: bool = False,
                verify_hashes: bool = False) -> recovery.RecoveryReport:
        return recovery.run_recovery(self.conn, self.paths, full_integrity=full_integrity,
                                     verify_hashes=verify_hashes)
