"""Devices and authority on the embedded store.

- An administrator issues a one-time enrolment code (`kycdesk-server enrol-code`); a
  device trades it for a credential (`POST /v1/enrolments`). Only the credential's
  SHA-256 is stored (256 random bits: a slow hash adds nothing). Revoking a device
  (`kycdesk-server revoke`) makes its credential fail at once.
- A case belongs to the device that first wrote to it (a photo upload or a submission):
  `claim` inserts the owner under a unique key inside one transaction — never check then
  insert — so two devices racing for a case cannot both win. Every other device gets 403
  for every read and write of it.
- Lab tokens (`--token`, for tests and demos) are devices too, each its own.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

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


@dataclass(frozen=True)
class Device:
    id: str
    name: str
    enrolled_at: str
    revoked_at: str | None


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

    def enrol(self, code: str, name: str) -> tuple[Device, str]:
        """Use the code (once); returns the new device and its credential."""
        credential = CREDENTIAL_PREFIX + secrets.token_urlsafe(32)
        device = Device(id=f"dev-{secrets.token_hex(8)}", name=name[:100] or "device",
                        enrolled_at=_now(), revoked_at=None)
        with self.db.transaction():
            self.db.execute("INSERT INTO devices(id, name, credential_sha256, "
                            "enrolled_at) VALUES (?, ?, ?, ?)",
                            (device.id, device.name, sha256_hex(credential),
                             device.enrolled_at))
            used = self.db.execute(
                "UPDATE enrolment_codes SET used_at = ?, device_id = ? "
                "WHERE code_sha256 = ? AND used_at IS NULL AND expires_at > ?",
                (device.enrolled_at, device.id, sha256_hex(normalise_code(code)),
                 device.enrolled_at)).rowcount
            if used != 1:
                raise EnrolmentRefusedError  # rolls the device back
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
        self.db.execute("INSERT INTO devices(id, name, credential_sha256, enrolled_at) "
                        "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                        (device_id, name, credential_sha256, _now()))
        found = self.get(device_id)
        assert found is not None
        return found

    # -- authentication -----------------------------------------------------------------
    def device_for(self, credential: str) -> Device | None:
        row = self.db.execute("SELECT id, name, enrolled_at, revoked_at FROM devices "
                              "WHERE credential_sha256 = ?",
                              (sha256_hex(credential),)).fetchone()
        return Device(*row) if row else None

    def get(self, device_id: str) -> Device | None:
        row = self.db.execute("SELECT id, name, enrolled_at, revoked_at FROM devices "
                              "WHERE id = ?", (device_id,)).fetchone()
        return Device(*row) if row else None

    def list(self) -> list[Device]:
        rows = self.db.execute("SELECT id, name, enrolled_at, revoked_at FROM devices "
                               "ORDER BY enrolled_at").fetchall()
        return [Device(*r) for r in rows]

    def revoke(self, device_id: str) -> bool:
        changed = self.db.execute("UPDATE devices SET revoked_at = ? WHERE id = ? "
                                  "AND revoked_at IS NULL", (_now(), device_id)).rowcount
        return changed == 1

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
