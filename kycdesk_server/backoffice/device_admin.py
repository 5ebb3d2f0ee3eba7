"""The office's acts on tablets (issue 18), one service for the devices page and the
`kycdesk-server device …` commands: revoke a device or a whole tablet, give a supervisor
code (extend the lease, release a wrong-PIN lockout) for today, release a lockout through
the tablet's other verifiers' sync. Every act is one audit row (ids and purposes; never
a code, a secret or applicant data). Blocking (the database): call from a worker thread."""

from __future__ import annotations

from dataclasses import dataclass

from kycdesk.core.office_codes import PURPOSES, Purpose, supervisor_code, utc_today
from kycdesk_server.backoffice.audit import AuditLog
from kycdesk_server.backoffice.identity import Reviewer
from kycdesk_server.backoffice.review import ReviewError
from kycdesk_server.devices import Device, DeviceRegistry


@dataclass(frozen=True)
class TabletGroup:
    """The devices (one per verifier) enrolled from one tablet; `tablet_id` None: a
    device enrolled before tablets were named, alone in its group."""

    tablet_id: str | None
    devices: list[Device]
    revoked: bool


class UnknownDeviceError(ReviewError):
    status, title = 404, "No such device"


class DeviceActRefusedError(ReviewError):
    """The act does not apply to this device (revoked, enrolled before office codes,
    no tablet id, an unknown purpose)."""

    status, title = 409, "Not possible for this device"


class DeviceAdmin:
    def __init__(self, registry: DeviceRegistry, audit: AuditLog) -> None:
        self.registry = registry
        self.audit = audit
        self.db = registry.db

    def tablets(self) -> list[TabletGroup]:
        groups: dict[str, list[Device]] = {}
        for device in self.registry.list():
            if device.id.startswith(("lab-", "system-")) or device.id == "archive-ingest":
                continue  # the server's own and lab devices are not tablets
            groups.setdefault(device.tablet_id or device.id, []).append(device)
        return [TabletGroup(ds[0].tablet_id, ds, all(d.revoked for d in ds))
                for ds in groups.values()]

    def _device(self, device_id: str) -> Device:
        found = self.registry.get(device_id)
        if found is None:
            raise UnknownDeviceError("No device has this id.")
        return found

    def revoke(self, actor: Reviewer | None, device_id: str, *, whole_tablet: bool,
               address: str) -> list[str]:
        """Revoke the device (or every device of its tablet); returns the ids newly
        revoked. Its next call is answered `device-revoked`, and it wipes."""
        device = self._device(device_id)
        by = actor.username if actor else "administrator (command line)"
        with self.db.transaction():
            if whole_tablet and device.tablet_id is not None:
                done = self.registry.revoke_tablet(device.tablet_id, by=by)
                self.audit.record("tablet.revoked", actor=actor, address=address,
                                  object_type="tablet", object_id=device.tablet_id,
                                  detail={"devices": done, "named_device": device.id})
            else:
                done = [device.id] if self.registry.revoke(device.id, by=by) else []
                self.audit.record("device.revoked", actor=actor, address=address,
                                  object_type="device", object_id=device.id,
                                  detail={"newly": bool(done)})
        return done

    def code(self, actor: Reviewer | None, device_id: str, purpose: str, *,
             address: str) -> str:
        """Today's (UTC) supervisor code for this device and purpose."""
        if purpose not in PURPOSES:
            raise DeviceActRefusedError(f"A code is for one of: {', '.join(PURPOSES)}.")
        chosen: Purpose = "lease" if purpose == "lease" else "pin-release"
        device = self._device(device_id)
        if device.revoked:
            raise DeviceActRefusedError("This device was revoked; it gets no codes.")
        secret = device.office_secret
        if secret is None:
            raise DeviceActRefusedError("This device was enrolled before supervisor codes "
                                        "existed; enrol it again to use them.")
        day = utc_today()
        self.audit.record("device.code_shown", actor=actor, address=address,
                          object_type="device", object_id=device.id,
                          detail={"purpose": chosen, "date": day.isoformat()})
        return supervisor_code(secret, chosen, device.id, day)

    def release(self, actor: Reviewer | None, device_id: str, *, address: str) -> None:
        """Release the device's wrong-PIN lockout at the tablet's next sync by any of its
        other verifiers (409 if the device names no tablet)."""
        device = self._device(device_id)
        if device.tablet_id is None:
            raise DeviceActRefusedError("This device was enrolled without a tablet id; "
                                        "give its verifier a pin-release code instead.")
        by = actor.username if actor else "administrator (command line)"
        with self.db.transaction():
            self.registry.grant_release(device.id, device.tablet_id, by=by)
            self.audit.record("device.released", actor=actor, address=address,
                              object_type="device", object_id=device.id,
                              detail={"tablet": device.tablet_id})
