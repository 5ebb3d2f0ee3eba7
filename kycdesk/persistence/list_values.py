"""The case list's three personal values on the case row — reference, applicant name,
ID numbers — sealed under the verifier's vault (schema 11), and read back.

Each is sealed with AAD = (case id, field): a value copied to another case or another
column does not open. A store migrated from before schema 11 may still hold a value in
the old clear column with the sealed one NULL ("not sealed yet": the encrypting
migration seals it and clears the old column); readers take the sealed value when there
is one, else the clear one. Writers always write the sealed column and clear the old one.
"""

from __future__ import annotations

import logging

from kycdesk.core.errors import StoreError
from kycdesk.persistence.db import Connection
from kycdesk.security.errors import TamperedDataError
from kycdesk.security.vault import Vault

log = logging.getLogger(__name__)

REFERENCE = "reference_number"
APPLICANT = "applicant_name"
ID_NUMBER = "id_number"
# cases column holding each field sealed (schema 11); the clear column keeps its name.
SEALED_COLUMN = {REFERENCE: "reference_sealed", APPLICANT: "applicant_sealed",
                 ID_NUMBER: "id_number_sealed"}


def vault_of(conn: Connection) -> Vault:
    if conn.vault is None:  # a bug: every store connection is opened with a vault
        raise StoreError("The store was opened without the verifier's keys.")
    return conn.vault


def seal(conn: Connection, case_id: str, field: str, value: str | None) -> bytes | None:
    """The sealed column's value, under the connection's vault (None stays None: an
    absent value is not personal)."""
    return vault_of(conn).seal_text(value, case_id=case_id, field=field)


def read(vault: Vault, case_id: str, field: str, sealed: bytes | None,
         clear: str | None) -> str | None:
    """The value of a row: the sealed column if set, else what is still clear. A value
    that does not open (changed on disk, another verifier's) reads as absent: the case
    stays listed and openable, its damage reported by the case itself."""
    if sealed is None:
        return clear
    try:
        return vault.open_text(bytes(sealed), case_id=case_id, field=field)
    except (TamperedDataError, UnicodeDecodeError):
        log.warning("case %s: its %s cannot be opened with these keys", case_id, field)
        return None


def read_on(conn: Connection, case_id: str, field: str, sealed: bytes | None,
            clear: str | None) -> str | None:
    """`read` with the connection's vault."""
    return read(vault_of(conn), case_id, field, sealed, clear)


def select(field: str, alias: str = "c") -> str:
    """SQL selecting one field's (sealed, clear) pair, for `read`."""
    return f"{alias}.{SEALED_COLUMN[field]}, {alias}.{field}"
