"""LocalStore: the store's synchronous API on one writing connection.

Used directly by command-line tools and tests, and by the persistence writer thread
(the GUI never calls it directly: it goes through `writer.PersistenceWriter`).
"""

from __future__ import annotations

import logging
from typing import TypeVar

from kycdesk.core.errors import DatabaseTooNewError, StorageUnavailableError, StoreError
from kycdesk.paths import DataPaths, ensure_private_dir
from kycdesk.persistence import full_check, recovery, schema
from kycdesk.persistence.commands import Command, StoreContext
from kycdesk.persistence.db import Connection
from kycdesk.persistence.imagecheck import ImageLimits
from kycdesk.persistence.reads import StoreReads
from kycdesk.security.vault import Vault

log = logging.getLogger(__name__)

T = TypeVar("T")


def open_connection(paths: DataPaths, *, writer: bool, role: str,
                    vault: Vault) -> Connection:
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
    conn.vault = vault
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


class LocalStore(StoreReads):
    """The writing connection, used directly (command line, tests, the writer thread).

    `run(command)` applies one write (see `commands`); reads come from `StoreReads`.
    `vault`: the signed-in verifier's keys, which seal and open the personal values
    (docs/security.md, *Store wiring*); no store opens without one."""

    def __init__(self, paths: DataPaths, *, vault: Vault,
                 image_limits: ImageLimits | None = None) -> None:
        self.paths = paths
        self.vault = vault
        self.image_limits = image_limits or ImageLimits()
        self.conn = open_connection(paths, writer=True, role="writer", vault=vault)
        self.context = StoreContext(self.conn, paths, self.image_limits, vault)

    def close(self) -> None:
        try:
            self._release_list_index()
        finally:
            self.conn.close()

    def __enter__(self) -> LocalStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, command: Command[T]) -> T:
        return command.apply(self.context)

    def recover(self) -> recovery.RecoveryReport:
        """Startup: repair what the operations in flight at a crash left (fast)."""
        return recovery.run_recovery(self.conn, self.paths, self.vault)

    def check(self, *, repair: bool = True, verify_hashes: bool = True,
              full_integrity: bool = True, restart: bool = True,
              progress: full_check.Progress | None = None) -> recovery.RecoveryReport:
        """The full check (`kycdesk doctor`): everything, every photo hashed."""
        return full_check.run_full_check(self.conn, self.paths, self.vault, repair=repair,
                                         verify_hashes=verify_hashes,
                                         full_integrity=full_integrity, restart=restart,
                                         progress=progress)
