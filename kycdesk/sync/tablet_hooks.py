"""The verifiers' registry behind the sync's office hooks (issue 18): what a signed-in
verifier's sync checks a revocation with, and where what it learns goes — the lease and
the releases into the registry, a proven revocation into `Registry.wipe_tablet()`.
Here in the sync layer because it joins the two: the engine, client and pull see only
the plain values of kycdesk.sync.office (import contract)."""

from __future__ import annotations

from collections.abc import Callable

from kycdesk.sync.office import OfficeHooks, OfficeIdentity
from kycdesk.verifiers.registry import Registry
from kycdesk.verifiers.session import Session


def office_identity_of(registry: Registry, session: Session) -> OfficeIdentity | None:
    """None when the verifier's store never enrolled (or enrolled before office
    secrets): a "revoked" answer then stops the sync and wipes nothing."""
    device_id = registry.device_id(session.verifier_id)
    secret = registry.office_secret(session.verifier_id)
    if device_id is None or secret is None:
        return None
    return OfficeIdentity(device_id, secret)


def hooks_for(registry: Registry, session: Session, *,
              wipe: Callable[[], None] | None = None) -> OfficeHooks:
    """`wipe`: what a proven revocation runs (default `registry.wipe_tablet`; the app
    passes one that closes the store first)."""
    def lease(expires_at: str, proof: str) -> None:
        registry.record_lease(session, expires_at=expires_at, proof=proof)

    def released(device_ids: list[str]) -> None:
        registry.release_devices(device_ids)

    return OfficeHooks(on_revoked=wipe or registry.wipe_tablet, on_lease=lease,
                       on_released=released)
