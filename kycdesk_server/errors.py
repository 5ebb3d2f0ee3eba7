"""The server's one known failure of its parts: the storage (database, photo store, disk)
cannot take or give data right now. It is not a bug: nothing acknowledged was lost, the
client tries again later. The app answers it with 503 + `Retry-After` (507 when the disk
is full); every other exception is a bug (500, one log line)."""

from __future__ import annotations

import errno

from kycdesk.core.errors import StorageUnavailableError as _CoreStorageUnavailableError

DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


class StorageUnavailableError(_CoreStorageUnavailableError):
    """The storage did not answer or refused (down, restarting, locked, full). `part` names
    which (database, photos); `disk_full`: it refused for lack of space (507)."""

    def __init__(self, reason: str, *, part: str = "storage", disk_full: bool = False
                 ) -> None:
        super().__init__(reason)
        self.reason, self.part, self.disk_full = reason, part, disk_full


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS


class RequestRefusedError(Exception):
    """A known refusal of a request (a wrong credential, another device's case, a
    conflict with what the server holds, a malformed upload header …): the services raise
    it, `problems.install` answers it with its status and a problem body."""

    def __init__(self, status: int, title: str, detail: str = "", *,
                 headers: dict[str, str] | None = None, **extra: object) -> None:
        super().__init__(f"{status} {title}")
        self.status, self.title, self.detail = status, title, detail
        self.headers = dict(headers or {})
        self.extra = extra
