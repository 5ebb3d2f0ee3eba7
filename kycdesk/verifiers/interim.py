"""TEMPORARY (issue 18, until sign-in exists): a vault for the callers that open a store
before any verifier has signed in — the app's start (`run_app`), the command line
(`kycdesk doctor`, `demo-data`, `case …`, `sync`), the self-test.

**This protects nothing.** Its data key is kept in clear in the data folder
(`interim.key`, beside the database it opens), so whoever can read the store can read
the key. It exists only so that the store's code can require a vault everywhere now
(`LocalStore(paths, vault=…)`), before the registry and the sign-in screen are built.
Helpers "v" (command line: `--user NAME --pin-stdin`) and "u" (the app's sign-in)
replace every call of `interim_vault` with the signed-in session's vault
(`Session.vault`); then this module is deleted. Do not add new callers.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from kycdesk.paths import DataPaths, ensure_private_dir
from kycdesk.persistence.files import fsync_dir
from kycdesk.security.keys import KEY_BYTES, DataKey, UnlockedKeys
from kycdesk.security.vault import Vault

INTERIM_VERIFIER = "interim"
_KEY_FILE = "interim.key"  # temporary: no entry in paths.py for a file that goes away


def _key_file(paths: DataPaths) -> Path:
    return paths.root / _KEY_FILE


def _create_key(target: Path) -> None:
    """32 random bytes written to a temp name, fsynced, then linked into place without
    replacing one another process made meanwhile (both then read the same key)."""
    temp = target.with_name(f"{target.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, secrets.token_bytes(KEY_BYTES))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        with contextlib.suppress(FileExistsError):
            os.link(temp, target)
    finally:
        temp.unlink()
    fsync_dir(target.parent)


def interim_vault(paths: DataPaths) -> Vault:
    """The vault of the store at `paths` until sign-in exists (see the module's warning)."""
    ensure_private_dir(paths.root)
    target = _key_file(paths)
    if not target.exists():
        _create_key(target)
    secret = target.read_bytes()
    key = DataKey(secret)  # ValueError if the file was cut: a bug or a hand edit
    return Vault(UnlockedKeys(INTERIM_VERIFIER, key, {key.key_id: key}))
