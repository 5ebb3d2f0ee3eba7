"""`kycdesk enrol --server URL --code CODE`: this device trades the one-time code its
administrator gave for its own credential, kept in the OS keyring (never in a file) and
used by the app and `kycdesk sync` from then on."""

from __future__ import annotations

import base64
import platform
import sys
from dataclasses import dataclass
from typing import TextIO

from kycdesk.core.protocol import EnrolledDevice
from kycdesk.exit_codes import ExitCode
from kycdesk.settings import CA_BUNDLE, SERVER_URL, Settings
from kycdesk.sync.client import enrol_device
from kycdesk.sync.credentials import save_token
from kycdesk.sync.errors import SyncError
from kycdesk.sync.office import OfficeIdentity


@dataclass(frozen=True)
class EnrolmentSecrets:
    """What an enrolment answer brings beyond the credential, decoded: the server's id
    for this store, its office secret (None from a server before issue 18) and the
    organisation's recovery public key (None until the office sets one). The caller
    keeps them (`Registry.record_enrolment`)."""

    device_id: str
    office_secret: bytes | None
    org_recovery_key: bytes | None

    @property
    def office(self) -> OfficeIdentity | None:
        """What the sync checks a revocation with (None: it can never wipe)."""
        return OfficeIdentity(self.device_id, self.office_secret) \
            if self.office_secret is not None else None

    def __repr__(self) -> str:  # never the secret in a log line or a traceback
        return f"EnrolmentSecrets(device_id={self.device_id!r})"


def enrolment_secrets(enrolled: EnrolledDevice) -> EnrolmentSecrets:
    """The answer's base64 fields as bytes (their shape was checked by the model)."""
    def raw(text: str | None) -> bytes | None:
        return base64.b64decode(text, validate=True) if text is not None else None

    return EnrolmentSecrets(enrolled.device_id, raw(enrolled.office_secret),
                            raw(enrolled.org_recovery_key))


def default_device_name() -> str:
    return platform.node()[:100] or "kycdesk device"


def run_enrol(server: str, code: str, *, name: str | None, ca_bundle: str | None,
              out: TextIO = sys.stdout) -> int:
    url = server.strip().rstrip("/")
    try:
        enrolled = enrol_device(url, code, name or default_device_name(),
                                ca_bundle=ca_bundle)
    except SyncError as exc:
        print(f"Not enrolled: {exc}", file=out)
        return ExitCode.AUTH
    settings = Settings()
    settings.set(SERVER_URL, url)
    if ca_bundle:
        settings.set(CA_BUNDLE, ca_bundle)
    problem = save_token(url, enrolled.credential)
    if problem:
        # No key store: the credential is shown once so it can be given with
        # KYCDESK_TOKEN; it cannot be shown again (the server keeps only its hash).
        print(f"Enrolled as {enrolled.device_id}, but {problem}", file=out)
        print(f"Credential (shown once; keep it secret): {enrolled.credential}", file=out)
        return ExitCode.OK
    print(f"Enrolled as {enrolled.device_id}; the credential is in the OS keyring.",
          file=out)
    return ExitCode.OK
