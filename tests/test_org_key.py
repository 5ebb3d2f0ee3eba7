"""The organisation's recovery public key as an administrator hands it to the server
(kycdesk_server/org_key.py): the forms a key file comes in, the refusals (a private key,
another kind of key, anything else), and the fingerprint a tablet shows for it."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from kycdesk.security.keys import generate_org_recovery_key, org_fingerprint, public_bytes
from kycdesk_server import org_key


def test_every_form_of_the_public_key_gives_the_same_32_bytes() -> None:
    private = X25519PrivateKey.generate()
    raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    pem = private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    for given in (raw, pem, base64.b64encode(raw) + b"\n", raw.hex().encode() + b"\r\n"):
        assert org_key.parse_public_key(given) == raw
    assert org_key.decode(org_key.encode(raw)) == raw


def test_the_fingerprint_is_the_one_the_tablet_computes() -> None:
    key = public_bytes(generate_org_recovery_key())
    shown = org_key.fingerprint(key)
    assert shown.replace(" ", "") == org_fingerprint(key).hex()
    assert [len(group) for group in shown.split(" ")] == [4, 4, 4, 4]


@pytest.mark.parametrize("kind", ["x25519-private", "ed25519-public", "garbage", "short"])
def test_what_is_not_an_x25519_public_key_is_refused_with_a_reason(kind: str) -> None:
    given = {
        "x25519-private": X25519PrivateKey.generate().private_bytes(
            Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()),
        "ed25519-public": Ed25519PrivateKey.generate().public_key().public_bytes(
            Encoding.PEM, PublicFormat.SubjectPublicKeyInfo),
        "garbage": b"not a key at all, just words in a file",
        "short": base64.b64encode(b"\x01" * 31),
    }[kind]
    with pytest.raises(org_key.OrgKeyError) as refused:
        org_key.parse_public_key(given)
    assert {"x25519-private": "private key", "ed25519-public": "another kind",
            "garbage": "not an X25519", "short": "not an X25519"}[kind] in str(refused.value)
