"""The registry's refusals, in the verifier's words (str(error) is shown as it is).

Stand-in written by the UI branch against docs PROTECT.md's fixed names until the
verifiers branch lands; that branch's module replaces this one."""

from __future__ import annotations

from datetime import datetime
from typing import Any


class VerifierError(Exception):
    """A refusal the sign-in screen explains (not a bug)."""


class PinRuleError(VerifierError):
    """The new PIN/passphrase breaks a rule (too short, common, reused)."""


class WrongPinAttemptError(VerifierError):
    def __init__(self, message: str, *, retry_at: datetime | None, remaining: int) -> None:
        super().__init__(message)
        self.retry_at = retry_at
        self.remaining = remaining


class TooSoonError(VerifierError):
    def __init__(self, message: str, *, retry_at: datetime) -> None:
        super().__init__(message)
        self.retry_at = retry_at


class VerifierLockedError(VerifierError):
    """Too many wrong PINs with cases not yet sent: a supervisor's code releases it."""


class LeaseExpiredError(VerifierError):
    """The PIN was right, but the tablet has not reached the server for too long."""

    def __init__(self, message: str, *, session: Any) -> None:
        super().__init__(message)
        self.session = session
