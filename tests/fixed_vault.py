"""A vault from a key the test chooses, so a child process and its parent (crash tests)
open the same store. No argon2: the key is given, not derived from a PIN."""

from __future__ import annotations

from kycdesk.security.keys import DataKey, UnlockedKeys
from kycdesk.security.vault import Vault

TEST_KEY = bytes(range(100, 132))
TEST_VERIFIER = "00ab00ab00ab00ab"  # hex, as the registry makes them (TabletPaths.store)


def vault_from_key(verifier_id: str = TEST_VERIFIER, key: bytes = TEST_KEY) -> Vault:
    data_key = DataKey(key)
    return Vault(UnlockedKeys(verifier_id, data_key, {data_key.key_id: data_key}))
