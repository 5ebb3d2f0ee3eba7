"""How a sync step failed, in words a verifier understands, and what to do about it."""

from __future__ import annotations

from kycdesk.core.errors import FailureKind


class SyncError(Exception):
    def __init__(self, kind: FailureKind, message: str, *, status: int | None = None,
                 retry_after: float | None = None, missing: list[str] | None = None,
                 unclear: bool = False) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.retry_after = retry_after
        self.missing = missing or []
        # The request may have reached the server (timeout, dropped reply): ask before
        # sending again.
        self.unclear = unclear


class SyncCancelledError(Exception):
    """Cancelled by the user or shutdown; the state left behind is resumable."""
