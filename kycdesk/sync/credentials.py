"""Where the server address and the device token come from.

The address is a setting (`kycdesk.settings.SERVER_URL`, or --server / KYCDESK_SERVER).
The token is a secret, and this is the one module that reads or writes it: each
verifier's store enrols as its own device, and its token is kept in that verifier's
registry record sealed under their own data key (`verifiers.Registry.set_credential`),
so only their sign-in opens it — never in clear, never the settings, never the OS
keyring (a shared kiosk account's keyring would hand every verifier's token to
everyone). --token / KYCDESK_TOKEN still override it (kiosks, CI).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from kycdesk.verifiers.registry import Registry
from kycdesk.verifiers.session import Session

TOKEN_ENV = "KYCDESK_TOKEN"
SERVER_ENV = "KYCDESK_SERVER"
NO_TOKEN = ("This verifier is not enrolled with the server yet: enrol with a code from "
            "the office (Settings, or `kycdesk enrol --user NAME`), or give the token "
            "with --token or KYCDESK_TOKEN.")


@dataclass(frozen=True)
class VerifierCredential:
    """The signed-in verifier's kept token (sealed in their registry record)."""

    registry: Registry
    session: Session

    def load(self) -> str | None:
        return self.registry.credential(self.session)

    def save(self, token: str) -> None:
        self.registry.set_credential(self.session, token)


@dataclass(frozen=True)
class TokenLookup:
    token: str | None
    source: str          # "command line", "environment", "verifier", "none"
    problem: str | None = None


def load_token(explicit: str | None = None, *,
               kept: VerifierCredential | None = None) -> TokenLookup:
    if explicit:
        return TokenLookup(explicit, "command line")
    if os.environ.get(TOKEN_ENV):
        return TokenLookup(os.environ[TOKEN_ENV], "environment")
    token = kept.load() if kept is not None else None
    if not token:
        return TokenLookup(None, "none", NO_TOKEN)
    return TokenLookup(token, "verifier")


def server_url_from(explicit: str | None, saved: str | None) -> str | None:
    return explicit or os.environ.get(SERVER_ENV) or saved or None
