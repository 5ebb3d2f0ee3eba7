"""Who a request comes from and which cases it may touch (rules: kycdesk_server.devices),
and what protects the tablets (issue 18): the revoked answer with its proof, the lease,
the wrong-PIN releases, the organisation's recovery key handed out at enrolment.
Blocking (the database): call from a worker thread."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime

from kycdesk.core.office_codes import (
    DEFAULT_LEASE_DAYS,
    lease_expiry,
    lease_proof,
    revocation_proof,
)
from kycdesk.core.protocol import DEVICE_REVOKED_TYPE, Lease
from kycdesk_server import org_key
from kycdesk_server.devices import (
    Device,
    DeviceRegistry,
    EnrolmentRefusedError,
    TabletRevokedError,
)
from kycdesk_server.errors import RequestRefusedError


def _not_yours() -> RequestRefusedError:
    return RequestRefusedError(403, "Another device's case",
                               "This case belongs to another device; this device may "
                               "neither read nor change it.")


def revoked_refusal(device: Device) -> RequestRefusedError:
    """403 `device-revoked` with the proof only the device's office secret gives (a
    device enrolled before office secrets gets `proof: null` and cannot wipe on it)."""
    secret = device.office_secret
    # "tablet": every verifier's store on the tablet goes; "device": this verifier's only
    # (one who left) — the proof's label says which, so it cannot be widened on the way.
    whole = device.tablet_revoked_at is not None
    return RequestRefusedError(
        403, "Device revoked",
        "This device's access was revoked by the office; it sends nothing more and "
        "removes the cases it holds.", type=DEVICE_REVOKED_TYPE,
        scope="tablet" if whole else "device",
        proof=revocation_proof(secret, device.id, whole_tablet=whole) if secret else None)


@dataclass(frozen=True)
class Enrolled:
    device: Device
    credential: str
    org_recovery_key: str | None  # base64, or None if the office has set none


class DeviceService:
    def __init__(self, registry: DeviceRegistry, *,
                 lease_days: int = DEFAULT_LEASE_DAYS) -> None:
        self.registry = registry
        self.lease_days = lease_days

    def authenticated(self, credential: str) -> Device:
        """The device holding this credential: 401 without one or for a wrong one, 403
        `device-revoked` (with its proof) if it or its tablet was revoked."""
        if not credential:
            raise RequestRefusedError(401, "Authentication required",
                                      "No device token was sent.")
        device = self.registry.device_for(credential)
        if device is None:
            raise RequestRefusedError(401, "Invalid device token",
                                      "The device token is wrong.")
        if device.revoked:
            raise revoked_refusal(device)
        return device

    def authenticate(self, credential: str) -> str:
        return self.authenticated(credential).id

    def enrol(self, code: str, name: str, *, tablet_id: str | None = None,
              verifier_name: str | None = None) -> Enrolled:
        """A new device and its credential for a one-time code (403 if it is not valid,
        or names a revoked tablet)."""
        try:
            device, credential = self.registry.enrol(code, name, tablet_id=tablet_id,
                                                     verifier_name=verifier_name)
        except EnrolmentRefusedError:
            raise RequestRefusedError(403, "Enrolment code not valid",
                                      "The code is unknown, was already used, or has "
                                      "expired; ask your administrator for a new one.") \
                from None
        except TabletRevokedError:
            raise RequestRefusedError(403, "Tablet revoked",
                                      "This tablet was revoked by the office; it cannot "
                                      "enrol again until the office re-issues it.") \
                from None
        return Enrolled(device, credential, self.registry.setting(org_key.SETTING))

    @staticmethod
    def office_secret_b64(device: Device) -> str | None:
        secret = device.office_secret
        return base64.b64encode(secret).decode("ascii") if secret else None

    def lease(self, device_id: str, now: datetime | None = None) -> Lease | None:
        """The lease this answer renews (None for a device without an office secret)."""
        device = self.registry.get(device_id)
        return self._lease(device, now) if device is not None else None

    def _lease(self, device: Device, now: datetime | None = None) -> Lease | None:
        if device.office_secret is None:
            return None
        expires_at = lease_expiry(now or datetime.now(UTC), self.lease_days)
        return Lease(expires_at=expires_at,
                     proof=lease_proof(device.office_secret, device.id, expires_at))

    def after_pull(self, device_id: str) -> tuple[Lease | None, list[str]]:
        """What every successful pull answer carries besides the changes: the renewed
        lease and the tablet's other devices released from a wrong-PIN lockout."""
        device = self.registry.get(device_id)
        if device is None:
            return None, []
        return self._lease(device), self.registry.releases_for(device)

    def released_devices(self, device_id: str) -> list[str]:
        return self.after_pull(device_id)[1]

    def claim(self, case_id: str, device_id: str) -> None:
        """Before a write: the case becomes this device's if it was nobody's (403 if it
        is another's)."""
        if self.registry.claim(case_id, device_id) != device_id:
            raise _not_yours()

    def check(self, case_id: str, device_id: str) -> None:
        """Before a read: 403 if the case is another device's."""
        owner = self.registry.owner(case_id)
        if owner is not None and owner != device_id:
            raise _not_yours()
