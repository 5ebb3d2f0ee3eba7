"""What a verifier's PIN or passphrase must be (docs/security.md, *PIN strength*).

The wrong-PIN counter stops guesses typed into kycdesk; it does nothing against someone
who copied the disk and runs argon2id on their own machines. Against that, only the
secret's own strength counts, hence the default: a **passphrase of at least 12
characters**, not one of the commonest passwords of public breaches
(resources/passwords/). A **numeric PIN of at least 6 digits** is accepted only where
the organisation allows it (`PinPolicy.numeric_pin_allowed`), knowing that a copied
disk then falls to a few minutes of parallel guessing (the table in docs/security.md).
"""

from __future__ import annotations

import itertools
import unicodedata
from dataclasses import dataclass
from functools import cache

from kycdesk.resources import resource_path
from kycdesk.verifiers.errors import PinRuleError

MIN_PASSPHRASE = 12
MIN_NUMERIC_PIN = 6
MAX_SECRET = 256
DEFAULT_MAX_FAILURES = 10
PIN_HISTORY = 3          # the new PIN differs from the current one and the 2 before it
COMMON_PASSWORDS = ("passwords", "common-passwords.txt")


@dataclass(frozen=True)
class PinPolicy:
    """The organisation's choices for this tablet (kept in the registry file)."""

    numeric_pin_allowed: bool = False
    max_failures: int = DEFAULT_MAX_FAILURES

    def to_json(self) -> dict[str, object]:
        return {"numeric_pin_allowed": self.numeric_pin_allowed,
                "max_failures": self.max_failures}

    @classmethod
    def from_json(cls, data: object) -> PinPolicy:
        if not isinstance(data, dict):
            return cls()
        numeric = data.get("numeric_pin_allowed") is True
        failures = data.get("max_failures")
        if not isinstance(failures, int) or isinstance(failures, bool) \
                or not 3 <= failures <= 100:
            failures = DEFAULT_MAX_FAILURES
        return cls(numeric_pin_allowed=numeric, max_failures=failures)


def rules_text(policy: PinPolicy) -> str:
    """The rules as the new-verifier screen and `kycdesk user add` show them."""
    text = (f"Choose a passphrase of at least {MIN_PASSPHRASE} characters (a few words "
            "are easy to remember), not a common password")
    if policy.numeric_pin_allowed:
        text += f", or a PIN of at least {MIN_NUMERIC_PIN} digits"
    return text + "; not one of your last 3."


@cache
def _common() -> frozenset[str]:
    path = resource_path(*COMMON_PASSWORDS)
    return frozenset(line.strip() for line in path.read_text(encoding="utf-8").splitlines()
                     if line.strip())


def _is_run(digits: str) -> bool:
    """123456…, 987654…, 111111…: the first PINs anyone tries."""
    steps = {(int(b) - int(a)) % 10 for a, b in itertools.pairwise(digits)}
    return len(steps) == 1 and steps <= {0, 1, 9}


def check_new_pin(pin: str, policy: PinPolicy, *, name: str = "") -> None:
    """Raise `PinRuleError` with the one sentence that says what to change."""
    secret = unicodedata.normalize("NFC", pin)
    if secret != secret.strip():
        raise PinRuleError("Spaces at the start or the end are easy to lose: leave them out.")
    if len(secret) > MAX_SECRET:
        raise PinRuleError(f"That is longer than {MAX_SECRET} characters.")
    if any(unicodedata.category(c).startswith("C") for c in secret):
        raise PinRuleError("Use letters, digits, spaces and punctuation only.")
    if secret.isdigit() and secret.isascii():
        if not policy.numeric_pin_allowed:
            raise PinRuleError(f"A PIN of digits only is not allowed here: choose a "
                               f"passphrase of at least {MIN_PASSPHRASE} characters.")
        if len(secret) < MIN_NUMERIC_PIN:
            raise PinRuleError(f"A PIN needs at least {MIN_NUMERIC_PIN} digits.")
        if _is_run(secret):
            raise PinRuleError("Repeated or consecutive digits are guessed first: choose "
                               "another PIN.")
    elif len(secret) < MIN_PASSPHRASE:
        raise PinRuleError(f"A passphrase needs at least {MIN_PASSPHRASE} characters "
                           f"(this one has {len(secret)}).")
    folded = secret.casefold()
    if folded in _common():
        raise PinRuleError("That is one of the most common passwords: choose another.")
    if len(set(folded)) <= 3:
        raise PinRuleError("That repeats too few characters: choose another.")
    own = name.strip().casefold()
    if len(own) >= 3 and own in folded and len(folded) - len(own) < MIN_PASSPHRASE:
        raise PinRuleError("Your name is easy to guess: add more, or choose another.")
