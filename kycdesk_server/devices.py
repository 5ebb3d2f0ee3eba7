"""Devices and authority on the embedded store.

- An administrator issues a one-time enrolment code (`kycdesk-server enrol-code`); a
  device trades it for a credential (`POST /v1/enrolments`). Only the credential's
  SHA-256 is stored (256 random bits: a slow hash adds nothing). Revoking a device
  (`kycdesk-server device revoke`) makes its credential fail at once; revoking a
  tablet (`--whole-tablet`) does so for every device enrolled with its tablet id, now
  and later (docs/sync-protocol.md "Revoked devices").
- Each device enrolled since schema 7 gets an office secret (32 random bytes) that keys
  its revocation proof, lease and supervisor codes (kycdesk/core/office_codes.py).
- A case belongs to the device that first wrote to it (a photo upload or a submission):
  `claim` inserts the owner under a unique key inside one transaction — never check then
  insert — so two devices racing for a case cannot both win. Every other device gets 403
  for every read and write of it.
- Lab tokens (`--token`, for tests and demos) are devices too, each its own.
"""

from __future__ import annotations

import builtins
import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from kycdesk.core.office_codes import new_office_secret
from kycdesk_server.database import Database

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud, typed on glass
CODE_GROUPS = 3
CREDENTIAL_PREFIX = "kyd_"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def normalise_code(code: str) -> str:
    """What a person typed: case, spaces and dashes do not matter."""
    return "".join(c for c in code.upper() if c.isalnum())


_COLUMNS = ("d.id, d.name, d.enrolled_at, d.revoked_at, d.tablet_id, d.verifier_name, "
            "d.office_secret, d.revoked_by, t.revoked_at")
_FROM = " FROM devices d LEFT JOIN revoked_tablets t ON t.tablet_id = d.tablet_id"


@dataclass(frozen=True)
class Device:
    id: str
    name: str
    enrolled_at: str
    revoked_at: str | None
    tablet_id: str | None = None
    verifier_name: str | None = None
    office_secret_hex: str | None = None
    revoked_by: str | None = None
    tablet_revoked_at: str | None = None

    @property
    def revoked(self) -> bool:
        """The device, or the tablet it is on, was revoked."""
        return self.revoked_at is not None or self.tablet_revoked_at is not None

    @property
    def office_secret(self) -> bytes | None:
        return bytes.fromhex(self.office_secret_hex) if self.office_secret_hex else None


class TabletRevokedError(Exception):
    """An enrolment names a tablet that was revoked (it must be re-issued first)."""


class EnrolmentRefusedError(Exception):
    """The code is unknown, used or expired (one message for all: no oracle)."""


class DeviceRegistry:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- enrolment ----------------------------------------------------------------------
    def issue_code(self, ttl: timedelta = timedelta(hours=24)) -> str:
        raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(4 * CODE_GROUPS))
        now = datetime.now(UTC)
        self.db.execute("INSERT INTO enrolment_codes(code_sha256, created_at, expires_at) "
                        "VALUES (?, ?, ?)",
                        (sha256_hex(raw), _now(),
                         (now + ttl).isoformat(timespec="milliseconds")
                         .replace("+00:00", "Z")))
        return "-".join(raw[i:i + 4] for i in range(0, len(raw), 4))

    def enrol(self, code: str, name: str, *, tablet_id: str | None = None,
              verifier_name: str | None = None) -> tuple[Device, str]:
        """Use the code (once); returns the new device and its credential."""
        credential = CREDENTIAL_PREFIX + secrets.token_urlsafe(32)
        device = Device(id=f"dev-{secrets.token_hex(8)}", name=name[:100] or "device",
                        enrolled_at=_now(), revoked_at=None, tablet_id=tablet_id or None,
                        verifier_name=verifier_name or None,
                        office_secret_hex=new_office_secret().hex())
        with self.db.transaction():
            self.db.execute("INSERT INTO devices(id, name, credential_sha256, "
                            "enrolled_at, tablet_id, verifier_name, office_secret) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (device.id, device.name, sha256_hex(credential),
                             device.enrolled_at, device.tablet_id, device.verifier_name,
                             device.office_secret_hex))
            used = self.db.execute(
                "UPDATE enrolment_codes SET used_at = ?, device_id = ? "
                "WHERE code_sha256 = ? AND used_at IS NULL AND expires_at > ?",
                (device.enrolled_at, device.id, sha256_hex(normalise_code(code)),
                 device.enrolled_at)).rowcount
            if used != 1:
                raise EnrolmentRefusedError  # rolls the device back
            if device.tablet_id is not None and self.db.execute(
                    "SELECT 1 FROM revoked_tablets WHERE tablet_id = ?",
                    (device.tablet_id,)).fetchone() is not None:
                raise TabletRevokedError  # rolls back: the code stays usable
        return device, credential

    def register_lab_token(self, token: str) -> Device:
        """A `--token` given on the command line: a device of its own (kept if revoked)."""
        return self._ensure(f"lab-{sha256_hex(token)[:16]}", "lab token", sha256_hex(token))

    def system_device(self, device_id: str, name: str) -> Device:
        """A device of the server's own (e.g. archive ingest): it owns cases, it has no
        usable credential (the hash of random bytes nobody holds)."""
        return self._ensure(device_id, name, sha256_hex(secrets.token_hex(32)))

    def _ensure(self, device_id: str, name: str, credential_sha256: str) -> Device:
        """The device, registered if it was not (never changed if it was)."""
        self.db.execute("INSERT INTO devices(id, name, credential_sha256, enrolled_at, "
                        "office_secret) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                        (device_id, name, credential_sha256, _now(),
                         new_office_secret().hex()))
        found = self.get(device_id)
        assert found is not None
        return found

    # -- authentication -----------------------------------------------------------------
    def device_for(self, credential: str) -> Device | None:
        row = self.db.execute(f"SELECT {_COLUMNS}{_FROM} WHERE d.credential_sha256 = ?",
                              (sha256_hex(credential),)).fetchone()
        return Device(*row) if row else None

    def get(self, device_id: str) -> Device | None:
        row = self.db.execute(f"SELECT {_COLUMNS}{_FROM} WHERE d.id = ?",
                              (device_id,)).fetchone()
        return Device(*row) if row else None

    def find(self, wanted: str) -> list[Device]:
        """The devices an administrator means by `wanted`: its id, else its name or its
        verifier's name (case-insensitive; several when the name is not unique)."""
        found = self.get(wanted)
        if found is not None:
            return [found]
        key = wanted.casefold()
        return [d for d in self.list()
                if d.name.casefold() == key or (d.verifier_name or "").casefold() == key]

    def list(self) -> list[Device]:
        rows = self.db.execute(f"SELECT {_COLUMNS}{_FROM} ORDER BY d.enrolled_at, d.id"
                               ).fetchall()
        return [Device(*r) for r in rows]

    def revoke(self, device_id: str, *, by: str = "administrator") -> bool:
        changed = self.db.execute("UPDATE devices SET revoked_at = ?, revoked_by = ? "
                                  "WHERE id = ? AND revoked_at IS NULL",
                                  (_now(), by[:200], device_id)).rowcount
        return changed == 1

    def revoke_tablet(self, tablet_id: str, *, by: str = "administrator") -> builtins.list[str]:
        """Every device of the tablet, and any enrolled with its id later; returns the
        ids newly revoked (one transaction)."""
        stamp = _now()
        with self.db.transaction():
            self.db.execute("INSERT INTO revoked_tablets(tablet_id, revoked_at, revoked_by) "
                            "VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                            (tablet_id, stamp, by[:200]))
            ids = [str(r[0]) for r in self.db.execute(
                "SELECT id FROM devices WHERE tablet_id = ? AND revoked_at IS NULL "
                "ORDER BY id", (tablet_id,)).fetchall()]
            self.db.execute("UPDATE devices SET revoked_at = ?, revoked_by = ? "
                            "WHERE tablet_id = ? AND revoked_at IS NULL",
                            (stamp, by[:200], tablet_id))
        return ids

    # -- wrong-PIN releases (delivered through the tablet's other devices) -------------
    def grant_release(self, device_id: str, tablet_id: str, *, by: str) -> None:
        self.db.execute(
            "INSERT INTO device_releases(device_id, tablet_id, granted_at, granted_by) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (device_id) DO UPDATE SET "
            "granted_at = excluded.granted_at, granted_by = excluded.granted_by, "
            "consumed_at = NULL", (device_id, tablet_id, _now(), by[:200]))

    def releases_for(self, device: Device) -> builtins.list[str]:
        """The released devices this device's pull carries to its tablet: the others'
        (its own release is spent once it pulls itself: it is signed in again). Reads
        only, unless a release is there to spend (a pull takes no write lock for it)."""
        if device.tablet_id is None:
            return []
        rows = self.db.execute(
            "SELECT device_id FROM device_releases WHERE tablet_id = ? AND "
            "consumed_at IS NULL ORDER BY device_id", (device.tablet_id,)).fetchall()
        released = [str(r[0]) for r in rows]
        if device.id in released:
            self.db.execute("UPDATE device_releases SET consumed_at = ? WHERE device_id = ? "
                            "AND consumed_at IS NULL", (_now(), device.id))
        return [d for d in released if d != device.id]

    # -- settings of the organisation --------------------------------------------------
    def setting(self, name: str) -> str | None:
        row = self.db.execute("SELECT value FROM server_settings WHERE name = ?",
                              (name,)).fetchone()
        return str(row[0]) if row else None

    def set_setting(self, name: str, value: str, *, by: str) -> None:
        self.db.execute("INSERT INTO server_settings(name, value, set_at, set_by) "
                        "VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
                        "value = excluded.value, set_at = excluded.set_at, "
                        "set_by = excluded.set_by", (name, value, _now(), by[:200]))

    # -- authority ----------------------------------------------------------------------
    def claim(self, case_id: str, device_id: str) -> str:
        """The case's owner after this device's write: itself if the case was nobody's."""
        self.db.execute("INSERT INTO case_owners(case_id, device_id, claimed_at) "
                        "VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                        (case_id, device_id, _now()))
        row = self.db.execute("SELECT device_id FROM case_owners WHERE case_id = ?",
                              (case_id,)).fetchone()
        return str(row[0])

    def owner(self, case_id: str) -> str | None:
        row = self.db.execute("SELECT device_id FROM case_owners WHERE case_id = ?",
                              (case_id,)).fetchone()
        return str(row[0]) if row else None
