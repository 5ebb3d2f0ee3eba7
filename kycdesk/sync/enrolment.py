"""`kycdesk enrol --user NAME --server URL --code CODE`: a verifier's store trades the
one-time code its administrator gave for its own device credential. The request names
the tablet and the verifier (the server groups a tablet's devices for revocation); the
answer's credential is sealed in the verifier's registry record, and the office secret
and organisation recovery key are recorded there (`Registry.record_enrolment`)."""

from __future__ import annotations

import base64
import binascii
import platform
import sys
from typing import TextIO

from kycdesk.core.protocol import EnrolledDevice
from kycdesk.exit_codes import ExitCode
from kycdesk.settings import CA_BUNDLE, SERVER_URL, Settings
from kycdesk.sync.client import enrol_device
from kycdesk.sync.errors import SyncError
from kycdesk.verifiers.registry import Registry
from kycdesk.verifiers.session import Session


def default_device_name() -> str:
    return platform.node()[:100] or "kycdesk device"


def keep_enrolment(registry: Registry, session: Session, enrolled: EnrolledDevice) -> None:
    """What an enrolment answer leaves on the tablet (the app's Settings and the command
    line alike): the sealed credential, the office secret, the org key's wraps."""
    registry.set_credential(session, enrolled.credential)
    if enrolled.office_secret is None:
        return  # a server before issue 18: no supervisor codes, no lease for this store
    try:
        secret = base64.b64decode(enrolled.office_secret, validate=True)
        org_key = (base64.b64decode(enrolled.org_recovery_key, validate=True)
                   if enrolled.org_recovery_key else None)
    except binascii.Error as exc:  # the protocol's pattern makes this a bug
        raise ValueError("an enrolment answer with bad base64") from exc
    registry.record_enrolment(session, device_id=enrolled.device_id, office_secret=secret,
                              org_recovery_key=org_key)


def run_enrol(server: str, code: str, *, registry: Registry, session: Session,
              name: str | None, ca_bundle: str | None, out: TextIO = sys.stdout) -> int:
    url = server.strip().rstrip("/")
    try:
        enrolled = enrol_device(url, code, name or default_device_name(),
                                ca_bundle=ca_bundle, tablet_id=registry.tablet_id,
                                verifier_name=session.name)
    except SyncError as exc:
        print(f"Not enrolled: {exc}", file=out)
        return ExitCode.AUTH
    settings = Settings()
    settings.set(SERVER_URL, url)
    if ca_bundle:
        settings.set(CA_BUNDLE, ca_bundle)
    keep_enrolment(registry, session, enrolled)
    print(f"{session.name} is enrolled as {enrolled.device_id}; the credential is kept "
          "sealed under their PIN.", file=out)
    if enrolled.org_recovery_key:
        from kycdesk.security.keys import org_fingerprint_text

        # A hostile server (or a TLS interception through a custom CA) could send a key of
        # its own: the administrator compares this with `kycdesk-server org-key show`.
        org = base64.b64decode(enrolled.org_recovery_key)
        print(f"Their keys are wrapped for the organisation's recovery key with "
              f"fingerprint {org_fingerprint_text(org)}: check that it is the office's "
              "(`kycdesk-server org-key show`).", file=out)
    else:
        print("The office has set no recovery key: a forgotten PIN cannot be recovered "
              "at the office for these cases.", file=out)
    return ExitCode.OK
