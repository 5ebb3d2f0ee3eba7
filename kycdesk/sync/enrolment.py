"""`kycdesk enrol --server URL --code CODE`: this device trades the one-time code its
administrator gave for its own credential, kept in the OS keyring (never in a file) and
used by the app and `kycdesk sync` from then on."""

from __future__ import annotations

import platform
import sys
from typing import TextIO

from kycdesk.exit_codes import ExitCode
from kycdesk.settings import CA_BUNDLE, SERVER_URL, Settings
from kycdesk.sync.client import enrol_device
from kycdesk.sync.credentials import save_token
from kycdesk.sync.errors import SyncError


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
