"""Who a request comes from and which cases it may touch (rules: kycdesk_server.devices).
Blocking (the database): call from a worker thread."""

from __future__ import annotations

from kycdesk_server.devices import Device, DeviceRegistry, EnrolmentRefusedError
from kycdesk_server.errors import RequestRefusedError


def _not_yours() -> RequestRefusedError:
    return RequestRefusedError(403, "Another device's case",
                               "This case belongs to another device; this device may "
                               "neither read nor change it.")


class DeviceService:
    def __init__(self, registry: DeviceRegistry) -> None:
        self.registry = registry

    def authenticate(self, credential: str) -> str:
        """The id of the device holding this credential (401 otherwise)."""
        if not credential:
            raise RequestRefusedError(401, "Authentication required",
                                      "No device token was sent.")
        device = self.registry.device_for(credential)
        if device is None:
            raise RequestRefusedError(401, "Invalid device token",
                                      "The device token is wrong.")
        if device.revoked_at is not None:
            raise RequestRefusedError(401, "Device revoked",
                                      "This device's access was revoked; ask your "
                                      "administrator for a new enrolment code.")
        return device.id

    def enrol(self, code: str, name: str) -> tuple[Device, str]:
        """A new device and its credential for a one-time code (403 if it is not valid)."""
        try:
            return self.registry.enrol(code, name)
        except EnrolmentRefusedError:
            raise RequestRefusedError(403, "Enrolment code not valid",
                                      "The code is unknown, was already used, or has "
                                      "expired; ask your administrator for a new one.") \
                from None

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
