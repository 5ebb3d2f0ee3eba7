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
        # The attempt moved bytes forward before it failed: retry soon, do not grow the
        # case's backoff (a flapping link is not a dead one).
        self.progressed = False


class SyncCancelledError(Exception):
    """Cancelled by the user or shutdown; the state left behind is resumable."""

    # The run's deadline ended it (`kycdesk sync --until-done --deadline`), not a person.
    deadline_passed = False


class RunCutError(SyncCancelledError):
    """The run's deadline passed or the user cancelled while requests were in flight:
    they were cut; what reached the server is kept there (resumable), and the cases stay
    due — a deadline is not a failure of the case."""

    def __init__(self, message: str, *, deadline_passed: bool) -> None:
        super().__init__(message)
        self.deadline_passed = deadline_passed


class UploadGoneError(Exception):
    """The server no longer has the photo's upload (expired, unknown, or it arrived
    damaged and was dropped): start that photo again from byte 0."""

    def __init__(self, message: str, *, damaged: bool = False) -> None:
        super().__init__(message)
        self.damaged = damaged


class DeviceRevokedError(SyncError):
    """The office revoked this device (or its tablet), and the answer carried the proof
    only the office secret gives (kycdesk.core.office_codes): the sync stops for good and
    the app wipes the tablet. Never raised on an answer whose proof does not check — that
    one is a plain AUTH SyncError (a hostile network must not be able to wipe a tablet)."""

    def __init__(self, *, whole_tablet: bool) -> None:
        what = ("this tablet's access; kycdesk stops syncing and removes every verifier's "
                "cases on it") if whole_tablet else ("this verifier's access on this "
                                                     "tablet; kycdesk stops syncing and "
                                                     "removes their cases")
        super().__init__(FailureKind.AUTH, f"The office revoked {what}.", status=403)
        self.whole_tablet = whole_tablet
