"""Errors of the local store.

Known conditions (disk full, read-only folder, corrupt file, bad input) are kept apart
from bugs: they carry a message a verifier understands and become UI text, while
anything else is a crash report. `retryable` says whether trying the same write again
later can succeed without the user changing anything (space freed, folder writable).
"""

from __future__ import annotations

from enum import StrEnum


class StoreError(Exception):
    """Base of every expected store failure. `str(err)` is the user-facing message."""

    retryable = False


class StorageUnavailableError(StoreError):
    """The disk is full, read-only or failing. Writes are kept in memory and retried."""

    retryable = True


class DatabaseCorruptError(StoreError):
    """The database file is damaged or not a kycdesk database. It is never overwritten."""


class DatabaseTooNewError(StoreError):
    """The database was written by a newer kycdesk; opening it could lose data."""


class DatabaseLockedError(StoreError):
    """Another kycdesk process holds the data dir."""


class InvalidCaseIdError(StoreError):
    """A case id that is not a canonical UUID (never used to build a path)."""


class CaseNotFoundError(StoreError):
    pass


class CaseLockedError(StoreError):
    """The case is not a draft: its form and photos can no longer change."""


class ImageNotFoundError(StoreError):
    pass


class ImageRejectionKind(StrEnum):
    EMPTY = "empty"
    NOT_AN_IMAGE = "not_an_image"
    UNSUPPORTED_FORMAT = "unsupported_format"
    TRUNCATED = "truncated"
    TOO_LARGE = "too_large"
    TOO_MANY_PIXELS = "too_many_pixels"
    UNREADABLE = "unreadable"


class ImageRejectedError(StoreError):
    """The file offered as a photo cannot be accepted; nothing was stored."""

    def __init__(self, kind: ImageRejectionKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class TransitionRefusedError(StoreError):
    """The case is not in a state that allows this change (it changed meanwhile, or the
    request does not apply to it). Nothing was written."""


class FailureKind(StrEnum):
    """How a sync attempt failed; stored with the case as `last_error_kind`."""

    TRANSIENT = "transient"  # network, 5xx, 429, timeouts, odd replies: retry with backoff
    PERMANENT = "permanent"  # the server refused the data: wait for the verifier
    AUTH = "auth"            # the device token: stop the whole queue, ask for a token


class UnreadableDataError(StoreError):
    """A sealed value (an answer, a note, a photo's place) does not open under the
    signed-in verifier's keys: it was changed on disk, moved from another case or field,
    or sealed by another verifier. Nothing is returned in part, nothing is overwritten."""
