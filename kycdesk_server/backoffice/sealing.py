"""Secrets the back office must read back (TOTP seeds) are stored sealed: Fernet
(AES-128-CBC + HMAC-SHA256, from `cryptography`) under a key kept OUTSIDE the database,
so a database dump or backup alone does not give anyone's second factor away.

The key comes from the environment (`KYCDESK_OFFICE_KEY`, for fleets: every host the same)
or else from `office-secret.key` in the data folder (created 0600 on first use).
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

KEY_ENV = "KYCDESK_OFFICE_KEY"
KEY_FILE = "office-secret.key"


class SealingKeyError(RuntimeError):
    """The sealing key is missing or is not the one the secrets were sealed with."""


def load_or_create_key(data_dir: Path) -> bytes:
    from_env = os.environ.get(KEY_ENV, "").strip()
    if from_env:
        return from_env.encode()
    path = data_dir / KEY_FILE
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    key = Fernet.generate_key()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker made it first: use theirs
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as out:
        out.write(key)
        out.flush()
        os.fsync(out.fileno())
    return key


class Sealer:
    def __init__(self, key: bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except ValueError as exc:
            raise SealingKeyError(f"{KEY_ENV} / {KEY_FILE} is not a Fernet key") from exc

    def seal(self, secret: bytes) -> str:
        return self._fernet.encrypt(secret).decode("ascii")

    def open(self, sealed: str) -> bytes:
        try:
            return self._fernet.decrypt(sealed.encode("ascii"))
        except InvalidToken as exc:
            raise SealingKeyError("a sealed secret does not open with this server's key "
                                  f"({KEY_ENV} / {KEY_FILE}): was the key replaced?") from exc
