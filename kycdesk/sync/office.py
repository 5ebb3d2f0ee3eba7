"""What the sync needs and reports for the tablet's protection (issue 18; docs/
sync-protocol.md "Revoked devices", "Lease"), as plain values: the persistence and the
verifiers' registry stay out of the sync engine, client and pull (import contract).

- `OfficeIdentity`: what this verifier's enrolment gave — the server's id for the store
  (`dev-…`) and the office secret — so a "revoked" answer can be checked before anything
  is wiped.
- `OfficeHooks`: what the app does with what the sync learnt. Called in the sync thread
  after the run (never the GUI thread): `on_revoked()` once the proof checked (the app
  closes the store and calls `Registry.wipe_tablet()`); `on_lease(expires_at, proof)`
  with each run's newest lease (`Registry.record_lease` checks the proof itself);
  `on_released(device_ids)` with the tablet's other devices a supervisor released.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kycdesk.core.errors import FailureKind
from kycdesk.core.office_codes import verify_revocation
from kycdesk.core.protocol import DEVICE_REVOKED_TYPE, EnrolledDevice
from kycdesk.sync.errors import DeviceRevokedError, SyncError


@dataclass(frozen=True)
class OfficeIdentity:
    device_id: str       # the server's id for this verifier's store (the enrolment's)
    office_secret: bytes

    def __repr__(self) -> str:  # never the secret in a log line or a traceback
        return f"OfficeIdentity(device_id={self.device_id!r})"


@dataclass(frozen=True)
class OfficeHooks:
    on_revoked: Callable[[bool], None] | None = None  # True: the whole tablet
    on_lease: Callable[[str, str], None] | None = None
    on_released: Callable[[list[str]], None] | None = None


_REVOKED_SUFFIX = "/" + DEVICE_REVOKED_TYPE.rsplit("/", 1)[-1]


def is_revoked_problem(problem: Any) -> bool:
    """A problem body whose type ends `/device-revoked` (any base URI)."""
    return isinstance(problem, dict) and isinstance(problem.get("type"), str) and \
        problem["type"].endswith(_REVOKED_SUFFIX)


def revoked_answer(problem: dict[str, Any], office: OfficeIdentity | None) -> SyncError:
    """The error for a 403 `device-revoked` answer: `DeviceRevokedError` only when its
    proof checks against this device's office secret; otherwise an AUTH error that
    stops the sync and wipes nothing."""
    whole = problem.get("scope") == "tablet"
    if office is not None and verify_revocation(office.office_secret, office.device_id,
                                                problem.get("proof"), whole_tablet=whole):
        return DeviceRevokedError(whole_tablet=whole)
    if office is None:
        return SyncError(FailureKind.AUTH, "The server says the office revoked this "
                         "device, but this device was enrolled without the office's "
                         "proof, so kycdesk cannot confirm it: sync is stopped and every "
                         "case is kept. Ask your supervisor.", status=403)
    return SyncError(FailureKind.AUTH, "An answer claimed the office revoked this device "
                     "but could not prove it (it may not come from your office's server): "
                     "sync is stopped and every case is kept. Tell your supervisor.",
                     status=403)


def office_identity(enrolled: EnrolledDevice) -> OfficeIdentity | None:
    """What an enrolment answer lets the sync check a revocation with (None from a server
    before issue 18: such a device can never be wiped by an answer)."""
    if enrolled.office_secret is None:
        return None
    return OfficeIdentity(enrolled.device_id,
                          base64.b64decode(enrolled.office_secret, validate=True))
