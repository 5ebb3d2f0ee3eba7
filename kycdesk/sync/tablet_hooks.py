"""The verifiers' registry behind the sync's office hooks (issue 18): what a signed-in
verifier's sync checks a revocation with, and where what it learns goes — the lease and
the releases into the registry, a proven revocation into `Registry.wipe_tablet()`.
Here in the sync layer because it joins the two: the engine, client and pull see only
the plain values of kycdesk.sync.office (import contract)."""

from __future__ import annotations

from collections.abc import Callable

from kycdesk.core.errors import FailureKind
from kycdesk.sync.credentials import VerifierCredential, load_token
from kycdesk.sync.errors import SyncError
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


def revocation_wipe(registry: Registry, session: Session) -> Callable[[bool], None]:
    """What a proven revocation wipes: the whole tablet (every verifier, keys first), or
    only this verifier's store when the office revoked their device alone (one who left:
    the others' cases, some perhaps unsent, stay)."""
    def wipe(whole_tablet: bool) -> None:
        if whole_tablet:
            registry.wipe_tablet()
        else:
            registry.wipe_verifier(session.verifier_id)

    return wipe


def hooks_for(registry: Registry, session: Session, *,
              wipe: Callable[[bool], None] | None = None) -> OfficeHooks:
    """`wipe(whole_tablet)`: what a proven revocation runs (default `revocation_wipe`;
    the app passes one that closes the store first)."""
    def lease(expires_at: str, proof: str) -> None:
        registry.record_lease(session, expires_at=expires_at, proof=proof)

    def released(device_ids: list[str]) -> None:
        registry.release_devices(device_ids)

    return OfficeHooks(on_revoked=wipe or revocation_wipe(registry, session), on_lease=lease,
                       on_released=released)


def renew_lease(registry: Registry, session: Session, url: str,
                ca_bundle: str | None = None) -> None:
    """The lease page's "Try to reach the server" (blocks: a background lane): ask the
    office for this verifier's lease and keep it if its proof checks. Raises SyncError
    with a sentence for the verifier when that is not possible."""
    from kycdesk.sync.client import SyncClient  # httpx: only when asked

    if not url:
        raise SyncError(FailureKind.PERMANENT, "No server address is set on this tablet: "
                        "ask a supervisor for an unlock code.")
    office = office_identity_of(registry, session)
    token = load_token(kept=VerifierCredential(registry, session)).token
    if office is None or not token:
        raise SyncError(FailureKind.AUTH, "Your cases were never enrolled with the office "
                        "on this tablet: ask a supervisor for an unlock code.")
    with SyncClient(url, token, device_id=office.device_id, ca_bundle=ca_bundle,
                    office=office) as client:
        lease = client.lease()
    if not registry.record_lease(session, expires_at=lease.expires_at, proof=lease.proof):
        raise SyncError(FailureKind.TRANSIENT, "The server's answer did not carry this "
                        "tablet's proof: it was not taken. Try again, or ask a supervisor "
                        "for an unlock code.")
