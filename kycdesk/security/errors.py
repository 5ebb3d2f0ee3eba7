"""The known ways unlocking or opening can fail, apart from bugs."""

from __future__ import annotations


class SecurityError(Exception):
    """Base of the known failures of this package."""


class WrongPinError(SecurityError):
    """The PIN does not open this verifier's key (the only thing told: not *why*)."""

    def __init__(self) -> None:
        super().__init__("That PIN is not right.")


class TamperedDataError(SecurityError):
    """Sealed bytes were changed, cut short, reordered, moved to another case or field, or
    belong to a key this verifier does not hold. Never returns partial plaintext."""
