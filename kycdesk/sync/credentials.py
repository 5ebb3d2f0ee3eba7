"""Where the server address and the device token come from.

The address is a setting (`kycdesk.settings.SERVER_URL`, or --server / KYCDESK_SERVER).
The token is a secret, and this is the one module that reads or writes it: the OS keyring
(Windows Credential Manager, macOS Keychain, Secret Service), or --token / KYCDESK_TOKEN
for kiosks and CI. Never the settings, never the database. Where no keyring backend
exists, we say so and work with the token from the command line.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

log = logging.getLogger(__name__)

KEYRING_SERVICE = "kycdesk"
TOKEN_ENV = "KYCDESK_TOKEN"
SERVER_ENV = "KYCDESK_SERVER"
NO_KEYRING = ("No secure key store is available on this device, so the token cannot be "
              "remembered. Give it with --token or the KYCDESK_TOKEN environment variable.")


# The same fact in the app's own terms (the GUI has no --token option to point at).
NO_KEYRING_IN_APP = ("This device has no secure key store, so the token is used until "
                     "kycdesk closes and is not remembered: enter it here again after a "
                     "restart, or ask your administrator to set KYCDESK_TOKEN for kycdesk.")


def keyring_available() -> bool:
    """True if the OS key store can keep the token (probing it, not just the module)."""
    keyring = _keyring()
    if keyring is None:
        return False
    try:
        backend = keyring.get_keyring()  # type: ignore[attr-defined]
        priority = float(getattr(backend, "priority", 0))
    except Exception:  # keyring.errors.*: no backend, D-Bus missing
        return False
    return priority > 0


@dataclass(frozen=True)
class TokenLookup:
    token: str | None
    source: str          # "command line", "environment", "keyring", "none"
    problem: str | None = None


def _keyring() -> object | None:
    try:
        import keyring
    except ImportError:
        return None
    return keyring


def load_token(server_url: str, explicit: str | None = None) -> TokenLookup:
    if explicit:
        return TokenLookup(explicit, "command line")
    if os.environ.get(TOKEN_ENV):
        return TokenLookup(os.environ[TOKEN_ENV], "environment")
    keyring = _keyring()
    if keyring is None:
        return TokenLookup(None, "none", NO_KEYRING)
    try:
        token = keyring.get_password(KEYRING_SERVICE, server_url)  # type: ignore[attr-defined]
    except Exception as exc:  # keyring.errors.* — no backend, locked store, D-Bus missing
        log.info("keyring unavailable: %s", exc)
        return TokenLookup(None, "none", NO_KEYRING)
    if not token:
        return TokenLookup(None, "none", "No device token is set. Enter it in Settings, or "
                                         "give it with --token or KYCDESK_TOKEN.")
    return TokenLookup(token, "keyring")


def save_token(server_url: str, token: str) -> str | None:
    """Store the token in the keyring; returns a problem sentence if it could not."""
    keyring = _keyring()
    if keyring is None:
        return NO_KEYRING
    try:
        keyring.set_password(KEYRING_SERVICE, server_url, token)  # type: ignore[attr-defined]
    except Exception as exc:  # see load_token
        log.info("keyring unavailable: %s", exc)
        return NO_KEYRING
    return None


def server_url_from(explicit: str | None, saved: str | None) -> str | None:
    return explicit or os.environ.get(SERVER_ENV) or saved or None
