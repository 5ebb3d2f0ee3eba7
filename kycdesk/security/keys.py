"""A data key per verifier, and the two keys that wrap it.

    PIN ──argon2id(salt, params)──▶ PIN key ──AES-256-GCM──▶ wraps every data key
    organisation recovery PUBLIC key ──X25519 + HKDF + AES-256-GCM──▶ wraps each data key

Data (answers, photos) is only ever encrypted under a data key, so changing the PIN, or
the organisation's recovery key, re-wraps 32-byte keys and never touches the data.
Rotation adds a new current data key; older keys stay in the ring to open older data.
The tablet never holds the organisation's private key: `recover_with_org_key` runs at
the office, offline. Nothing here is stored by itself: `VerifierKeyring.to_json()` is what
the store will keep (it holds no secret in clear).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
import unicodedata
from dataclasses import dataclass, field, replace
from typing import Any

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from kycdesk.security.errors import TamperedDataError, WrongPinError

KEY_BYTES = 32
KEY_ID_BYTES = 8
SALT_BYTES = 16
NONCE_BYTES = 12
X25519_BYTES = 32
RING_FORMAT = 1

_PIN_WRAP_LABEL = b"kycdesk/pin-wrap/v1"
_RECOVERY_LABEL = b"kycdesk/recovery-wrap/v1"
# One use per ephemeral key pair, so a fixed nonce is safe for the recovery wrap.
_RECOVERY_NONCE = bytes(NONCE_BYTES)


@dataclass(frozen=True)
class Argon2Params:
    """argon2id cost. The default was chosen by measurement (docs/security.md, *PIN key*):
    ~0.15 s on the development machine, well inside the 1.5 s sign-in budget, and at or
    above RFC 9106's second recommended option in memory (64 MiB) and passes (3)."""

    time_cost: int = 3
    memory_kib: int = 65_536
    parallelism: int = 1

    def encode(self) -> bytes:
        return struct.pack(">III", self.time_cost, self.memory_kib, self.parallelism)

    @classmethod
    def stored(cls, time_cost: int, memory_kib: int, parallelism: int) -> Argon2Params:
        """Parameters read from a file (a key ring, a PIN history, a sealed archive):
        bounded, so an edited or damaged file cannot make argon2id take gigabytes or
        minutes at sign-in (TamperedDataError instead)."""
        if not (1 <= time_cost <= 10 and 8 <= memory_kib <= 1024 * 1024
                and 1 <= parallelism <= 16):
            raise TamperedDataError("This key ring asks for an unreasonable key cost.")
        return cls(time_cost, memory_kib, parallelism)


DEFAULT_PIN_PARAMS = Argon2Params()


def _bound(*parts: bytes) -> bytes:
    """Length-prefixed concatenation: no two different part lists give the same bytes."""
    return b"".join(struct.pack(">I", len(part)) + part for part in parts)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text.encode("ascii"))


class DataKey:
    """32 random bytes that encrypt a verifier's data; `key_id` names it in every sealed
    value and file header (it is derived from the key, so it cannot be attached to
    another key by accident). `repr` never shows the secret."""

    __slots__ = ("_secret", "key_id")

    def __init__(self, secret: bytes) -> None:
        if len(secret) != KEY_BYTES:
            raise ValueError("a data key is 32 bytes")
        self._secret = secret
        self.key_id = hashlib.sha256(b"kycdesk/key-id/v1" + secret).digest()[:KEY_ID_BYTES]

    @classmethod
    def create(cls) -> DataKey:
        return cls(os.urandom(KEY_BYTES))

    @property
    def secret(self) -> bytes:
        return self._secret

    def __repr__(self) -> str:
        return f"DataKey(key_id={self.key_id.hex()})"


def derive_pin_key(pin: str, salt: bytes, params: Argon2Params = DEFAULT_PIN_PARAMS) -> bytes:
    """The PIN-derived wrapping key. The PIN is NFC-normalised first, so the same
    passphrase typed on two keyboards (é as one or two code points) gives the same key."""
    if len(salt) != SALT_BYTES:
        raise ValueError("the PIN salt is 16 bytes")
    secret = unicodedata.normalize("NFC", pin).encode("utf-8")
    return hash_secret_raw(secret, salt, params.time_cost, params.memory_kib,
                           params.parallelism, KEY_BYTES, Type.ID)


# --- the organisation's recovery key (X25519 sealed box) ---------------------------------

def generate_org_recovery_key() -> X25519PrivateKey:
    """For the office's offline tool (and tests): the private half never reaches a tablet;
    tablets receive `public_bytes(...)` at enrolment."""
    return X25519PrivateKey.generate()


def public_bytes(private_key: X25519PrivateKey) -> bytes:
    return private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def org_fingerprint(org_public: bytes) -> bytes:
    """Names which organisation key wrapped a data key (shown to the office at recovery)."""
    return hashlib.sha256(b"kycdesk/org-key/v1" + org_public).digest()[:KEY_ID_BYTES]


def org_fingerprint_text(org_public: bytes) -> str:
    """The fingerprint as people compare it: hex in groups of four (the tablet prints it
    at enrolment, `kycdesk-server org-key show` at the office)."""
    text = org_fingerprint(org_public).hex()
    return " ".join(text[i:i + 4] for i in range(0, len(text), 4))


def _recovery_aead(shared: bytes, ephemeral_public: bytes, org_public: bytes) -> AESGCM:
    wrapping = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES,
                    salt=ephemeral_public + org_public, info=_RECOVERY_LABEL).derive(shared)
    return AESGCM(wrapping)


@dataclass(frozen=True)
class RecoveryWrap:
    key_id: bytes
    org_fingerprint: bytes
    ephemeral_public: bytes
    ciphertext: bytes

    def _aad(self, verifier: str) -> bytes:
        return _bound(_RECOVERY_LABEL, verifier.encode("utf-8"), self.key_id,
                      self.org_fingerprint)


def wrap_for_recovery(key: DataKey, org_public: bytes, *, verifier: str) -> RecoveryWrap:
    if len(org_public) != X25519_BYTES:
        raise ValueError("the organisation's recovery key is a 32-byte X25519 public key")
    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = public_bytes(ephemeral)
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(org_public))
    blank = RecoveryWrap(key.key_id, org_fingerprint(org_public), ephemeral_public, b"")
    sealed = _recovery_aead(shared, ephemeral_public, org_public).encrypt(
        _RECOVERY_NONCE, key.secret, blank._aad(verifier))
    return replace(blank, ciphertext=sealed)


def unwrap_recovery(wrap: RecoveryWrap, org_private: X25519PrivateKey, *,
                    verifier: str) -> DataKey:
    org_public = public_bytes(org_private)
    if org_fingerprint(org_public) != wrap.org_fingerprint:
        raise TamperedDataError("This key was wrapped for another organisation recovery key.")
    shared = org_private.exchange(X25519PublicKey.from_public_bytes(wrap.ephemeral_public))
    try:
        secret = _recovery_aead(shared, wrap.ephemeral_public, org_public).decrypt(
            _RECOVERY_NONCE, wrap.ciphertext, wrap._aad(verifier))
    except InvalidTag:
        raise TamperedDataError("The recovery copy of this key was changed.") from None
    key = DataKey(secret)
    if key.key_id != wrap.key_id:
        raise TamperedDataError("The recovery copy of this key was changed.")
    return key


# --- the verifier's key ring ------------------------------------------------------------

@dataclass(frozen=True)
class UnlockedKeys:
    """What a signed-in verifier holds in memory: every data key (by id), which one seals
    new data, and the PIN key (so rotation can wrap a new key without asking again).
    Dropped at lock/sign-out; Python cannot promise the bytes are zeroed (docs/security.md,
    *Out of scope*)."""

    verifier: str
    current: DataKey
    by_id: dict[bytes, DataKey] = field(repr=False)
    pin_key: bytes | None = field(default=None, repr=False)

    def get(self, key_id: bytes) -> DataKey:
        key = self.by_id.get(key_id)
        if key is None:
            raise TamperedDataError("This was sealed with a key this verifier does not hold.")
        return key


@dataclass(frozen=True)
class VerifierKeyring:
    """Everything stored about one verifier's keys; no secret in clear. Each data key is
    wrapped twice: under the PIN key (`pin_wraps`, nonce ‖ ciphertext) and under the
    organisation's recovery public key (`recovery_wraps`)."""

    verifier: str
    pin_salt: bytes
    pin_params: Argon2Params
    current_key_id: bytes
    pin_wraps: dict[bytes, bytes]
    recovery_wraps: dict[bytes, RecoveryWrap]

    def _pin_aad(self, key_id: bytes) -> bytes:
        return _bound(_PIN_WRAP_LABEL, self.verifier.encode("utf-8"), key_id,
                      self.pin_params.encode(), self.pin_salt)

    def to_json(self) -> str:
        return json.dumps({
            "format": RING_FORMAT,
            "verifier": self.verifier,
            "pin_salt": _b64(self.pin_salt),
            "pin_params": [self.pin_params.time_cost, self.pin_params.memory_kib,
                           self.pin_params.parallelism],
            "current": _b64(self.current_key_id),
            "pin_wraps": {_b64(k): _b64(v) for k, v in self.pin_wraps.items()},
            "recovery_wraps": {_b64(k): [_b64(w.org_fingerprint), _b64(w.ephemeral_public),
                                         _b64(w.ciphertext)]
                               for k, w in self.recovery_wraps.items()},
        }, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> VerifierKeyring:
        try:
            data: dict[str, Any] = json.loads(text)
            if data.get("format") != RING_FORMAT:
                raise TamperedDataError("This key ring was written by a newer kycdesk.")
            return cls._from_dict(data)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            # json, base64 and unpacking errors: a damaged ring, not a bug to show.
            raise TamperedDataError("This verifier's key ring is damaged.") from exc

    @classmethod
    def _from_dict(cls, data: dict[str, Any]) -> VerifierKeyring:
        time_cost, memory_kib, parallelism = data["pin_params"]
        return cls(
            verifier=data["verifier"],
            pin_salt=_unb64(data["pin_salt"]),
            pin_params=Argon2Params.stored(int(time_cost), int(memory_kib), int(parallelism)),
            current_key_id=_unb64(data["current"]),
            pin_wraps={_unb64(k): _unb64(v) for k, v in data["pin_wraps"].items()},
            recovery_wraps={
                _unb64(k): RecoveryWrap(_unb64(k), _unb64(fp), _unb64(eph), _unb64(ct))
                for k, (fp, eph, ct) in data["recovery_wraps"].items()},
        )


def _wrap_all_under_pin(verifier: str, keys: dict[bytes, DataKey], *, current: bytes,
                        pin: str, params: Argon2Params,
                        recovery_wraps: dict[bytes, RecoveryWrap],
                        ) -> tuple[VerifierKeyring, bytes]:
    salt = os.urandom(SALT_BYTES)
    pin_key = derive_pin_key(pin, salt, params)
    ring = VerifierKeyring(verifier, salt, params, current, {}, dict(recovery_wraps))
    aead = AESGCM(pin_key)
    for key_id, key in keys.items():
        # A fresh random nonce per wrap: a PIN key wraps a handful of keys in its life
        # (a new salt, hence a new PIN key, at every PIN change).
        nonce = os.urandom(NONCE_BYTES)
        ring.pin_wraps[key_id] = nonce + aead.encrypt(nonce, key.secret, ring._pin_aad(key_id))
    return ring, pin_key


def enrol(verifier: str, pin: str, org_public: bytes,
          params: Argon2Params = DEFAULT_PIN_PARAMS) -> tuple[VerifierKeyring, UnlockedKeys]:
    """A new verifier on this device: a first data key, wrapped both ways."""
    key = DataKey.create()
    recovery = {key.key_id: wrap_for_recovery(key, org_public, verifier=verifier)}
    ring, pin_key = _wrap_all_under_pin(verifier, {key.key_id: key}, current=key.key_id,
                                        pin=pin, params=params, recovery_wraps=recovery)
    return ring, UnlockedKeys(verifier, key, {key.key_id: key}, pin_key)


def _open_pin_wraps(ring: VerifierKeyring, pin_key: bytes) -> dict[bytes, DataKey]:
    aead = AESGCM(pin_key)
    opened: dict[bytes, DataKey] = {}
    for key_id, blob in ring.pin_wraps.items():
        nonce, sealed = blob[:NONCE_BYTES], blob[NONCE_BYTES:]
        # The AEAD tag is the PIN check: OpenSSL compares it in constant time, and no
        # hash of the PIN is stored anywhere to be compared (or attacked) separately.
        secret = aead.decrypt(nonce, sealed, ring._pin_aad(key_id))
        key = DataKey(secret)
        if key.key_id != key_id:
            raise TamperedDataError("This verifier's key ring was changed.")
        opened[key_id] = key
    return opened


def unlock(ring: VerifierKeyring, pin: str) -> UnlockedKeys:
    """Sign-in: one argon2id derivation, then every data key. A wrong PIN (or a ring whose
    wraps were changed: the two are indistinguishable by design) raises `WrongPinError`."""
    pin_key = derive_pin_key(pin, ring.pin_salt, ring.pin_params)
    try:
        opened = _open_pin_wraps(ring, pin_key)
    except InvalidTag:
        raise WrongPinError() from None
    if ring.current_key_id not in opened:
        raise TamperedDataError("This verifier's key ring has no current key.")
    return UnlockedKeys(ring.verifier, opened[ring.current_key_id], opened, pin_key)


def set_pin(ring: VerifierKeyring, keys: UnlockedKeys, new_pin: str,
            params: Argon2Params = DEFAULT_PIN_PARAMS) -> tuple[VerifierKeyring, UnlockedKeys]:
    """Wrap the (already opened) data keys under a new PIN: a PIN change after `unlock`,
    or a reset after the office's `recover_with_org_key`. Data is not touched."""
    new_ring, pin_key = _wrap_all_under_pin(ring.verifier, keys.by_id,
                                            current=ring.current_key_id, pin=new_pin,
                                            params=params, recovery_wraps=ring.recovery_wraps)
    return new_ring, replace(keys, pin_key=pin_key)


def change_pin(ring: VerifierKeyring, old_pin: str, new_pin: str,
               params: Argon2Params = DEFAULT_PIN_PARAMS) -> VerifierKeyring:
    """Re-wrap under a new PIN; the old PIN must open the ring first (`WrongPinError` if not)."""
    return set_pin(ring, unlock(ring, old_pin), new_pin, params)[0]


def rotate_data_key(ring: VerifierKeyring, keys: UnlockedKeys,
                    org_public: bytes) -> tuple[VerifierKeyring, UnlockedKeys]:
    """A new current data key for everything sealed from now on (older data stays under
    its key, still in the ring, until a background re-encryption chooses to move it)."""
    if keys.pin_key is None:
        raise ValueError("rotation needs the ring opened with the PIN (set a PIN first)")
    new = DataKey.create()
    nonce = os.urandom(NONCE_BYTES)
    pin_wrap = nonce + AESGCM(keys.pin_key).encrypt(nonce, new.secret,
                                                    ring._pin_aad(new.key_id))
    new_ring = replace(
        ring, current_key_id=new.key_id,
        pin_wraps={**ring.pin_wraps, new.key_id: pin_wrap},
        recovery_wraps={**ring.recovery_wraps,
                        new.key_id: wrap_for_recovery(new, org_public,
                                                      verifier=ring.verifier)})
    return new_ring, replace(keys, current=new, by_id={**keys.by_id, new.key_id: new})


def rewrap_for_org_key(ring: VerifierKeyring, keys: UnlockedKeys,
                       new_org_public: bytes) -> VerifierKeyring:
    """The organisation rotated its recovery key: wrap every data key for the new one."""
    return replace(ring, recovery_wraps={
        key_id: wrap_for_recovery(key, new_org_public, verifier=ring.verifier)
        for key_id, key in keys.by_id.items()})


def recover_with_org_key(ring: VerifierKeyring, org_private: X25519PrivateKey) -> UnlockedKeys:
    """At the office, offline: open a verifier's keys without their PIN (forgotten PIN,
    verifier left). Follow with `set_pin` to hand the ring back under a new PIN."""
    opened = {key_id: unwrap_recovery(wrap, org_private, verifier=ring.verifier)
              for key_id, wrap in ring.recovery_wraps.items()}
    if ring.current_key_id not in opened:
        raise TamperedDataError("This verifier's key ring has no current key.")
    return UnlockedKeys(ring.verifier, opened[ring.current_key_id], opened)
