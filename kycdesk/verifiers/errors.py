"""What can go wrong when a verifier signs in or changes their PIN, in their words.

Every error's `str()` is a sentence the sign-in screen and the command line show as it
is; the attributes carry what a screen needs to do more (a countdown, a renewal page).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kycdesk.verifiers.session import Session


class VerifierError(Exception):
    """Base of the verifiers' known refusals (not bugs)."""


class PinRuleError(VerifierError):
    """The new PIN or passphrase breaks a rule; the message says which."""


class UnknownVerifierError(VerifierError):
    pass


class WrongPinAttemptError(VerifierError):
    """A wrong PIN. `remaining`: tries left before the lockout; `retry_at`: when the
    next try is accepted (None: at once)."""

    def __init__(self, message: str, *, retry_at: datetime | None, remaining: int) -> None:
        super().__init__(message)
        self.retry_at = retry_at
        self.remaining = remaining


class TooSoonError(VerifierError):
    """A try before the growing delay has passed: not counted, not checked."""

    def __init__(self, message: str, *, retry_at: datetime) -> None:
        super().__init__(message)
        self.retry_at = retry_at


class VerifierLockedError(VerifierError):
    """Too many wrong PINs while cases are unsynced: a supervisor's pin-release code (or
    the office, through another verifier's sync) releases it. `reason` is "wrong-pin"."""

    def __init__(self, message: str, *, reason: str = "wrong-pin") -> None:
        super().__init__(message)
        self.reason = reason


class VerifierWipedError(VerifierError):
    """Too many wrong PINs with nothing unsynced: the verifier's data was wiped."""


class LeaseExpiredError(VerifierError):
    """The PIN was right but the tablet has not reached the server for too long. The
    session is open so the screen can renew the lease (a sync, or a supervisor's code);
    nothing else may use it until then."""

    def __init__(self, message: str, *, session: Session) -> None:
        super().__init__(message)
        self.session = session


class WrongCodeError(VerifierError):
    """A supervisor code that is not this verifier's, for this purpose, today."""


class NotEnrolledError(VerifierError):
    """What needs the office (codes, leases) before this verifier enrolled."""
