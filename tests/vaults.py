"""Vaults for store-level tests: a real `Vault` (real AES-GCM sealing) over a fixed data
key, without argon2 or a registry (docs/security.md, *Store wiring*; PROTECT.md 8).

The key is fixed, not drawn per run, so that every process of a test — the test itself,
a child it SIGKILLs, a command it runs — opens the same store with the same key. It is a
test key: it protects nothing and must never be used outside tests.
"""

from __future__ import annotations

import hashlib

from kycdesk.paths import DataPaths, ensure_private_dir
from kycdesk.security.keys import DataKey, UnlockedKeys
from kycdesk.security.vault import Vault

# 32 random bytes drawn once for the test suite; each verifier's key is derived from them
# so two test verifiers never share a key (a case sealed by one does not open for another).
_TEST_SECRET = bytes.fromhex(
    "5b0c1f3e9a7d24c68e13f0b95a2d7c41e6089b3fd5a1c27e48f90b6d13ac5e72")


def key_for(verifier: str = "v-test") -> DataKey:
    return DataKey(hashlib.sha256(_TEST_SECRET + verifier.encode("utf-8")).digest())


def make_vault(verifier: str = "v-test") -> Vault:
    key = key_for(verifier)
    return Vault(UnlockedKeys(verifier, key, {key.key_id: key}))


def share_with_cli(paths: DataPaths, verifier: str = "v-test") -> None:
    """Make the data folder's interim key (kycdesk/verifiers/interim.py) the test key, so
    a command (`kycdesk case …`, `doctor`, `sync`) or `run_app` started on `paths` opens
    what the test wrote with `make_vault(verifier)`, and the test what they wrote. Until
    sign-in replaces the interim vault (then commands take `--user NAME --pin-stdin`)."""
    ensure_private_dir(paths.root)
    key_file = paths.root / "interim.key"
    key_file.write_bytes(key_for(verifier).secret)
    key_file.chmod(0o600)
