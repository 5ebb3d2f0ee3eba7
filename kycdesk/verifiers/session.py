"""A signed-in verifier: whose, which store, and the keys it is opened with."""

from __future__ import annotations

from dataclasses import dataclass, field

from kycdesk.paths import DataPaths
from kycdesk.security.vault import Vault


@dataclass
class Session:
    """Exists from sign-in to lock/sign-out. `paths` is the verifier's own store; every
    store opened for this session gets `vault` (nothing else can read it)."""

    verifier_id: str
    name: str
    paths: DataPaths
    vault: Vault = field(repr=False)
