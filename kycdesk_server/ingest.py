"""`kycdesk-server ingest --data-dir D ARCHIVE`: a case exported by the app (`kycdesk case
export`: a tablet that cannot reach the server, carried to the office) is taken in through
the same idempotent path as an upload and a submission — the photos held by (case, client
image id) and digest, the submission accepted by (case, revision) — so ingesting the same
archive twice, or after the tablet also synced the case, stores nothing twice.

The case belongs to the device given with `--device`, or to the server's `archive-ingest`
device; a case another device already owns is refused.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import IO, Any, TextIO

from pydantic import ValidationError

from kycdesk.core.case_archive import read_archive
from kycdesk.core.protocol import ClientInfo, Submission, SubmissionImage
from kycdesk_server.devices import DeviceRegistry
from kycdesk_server.errors import RequestRefusedError
from kycdesk_server.services.submissions import SubmissionService
from kycdesk_server.storage import ImageConflictError, ServerStore

FINALIZED = ("READY", "FAILED", "SYNCED")
INGEST_DEVICE = "archive-ingest"


def _opened(archive: Path, passphrase: str | None) -> Path | IO[bytes]:
    """A clear archive as it is; a sealed one (the app's default export) opened in memory
    with its passphrase. ValueError with the reason otherwise."""
    from kycdesk.security.errors import TamperedDataError
    from kycdesk.security.sealed_archive import is_sealed, open_sealed

    try:
        with archive.open("rb") as fh:
            if not is_sealed(fh.read(8)):
                return archive
            if passphrase is None:
                raise ValueError("the archive is sealed with a passphrase: give it with "
                                 "--passphrase-stdin")
            fh.seek(0)
            return open_sealed(fh, passphrase)
    except OSError as exc:
        raise ValueError(f"the archive cannot be read ({exc.strerror or exc})") from exc
    except TamperedDataError as exc:
        raise ValueError(str(exc).rstrip(".")) from exc


def ingest(store: ServerStore, registry: DeviceRegistry, archive: Path, *,
           device_id: str | None, out: TextIO, passphrase: str | None = None) -> int:
    """0 ingested (or already held), 1 refused (with the reason)."""
    if device_id is not None and registry.get(device_id) is None:
        print(f"refused: no device {device_id}", file=out)
        return 1
    device = device_id or registry.system_device(INGEST_DEVICE, "archive ingest").id
    with tempfile.TemporaryDirectory(dir=store.root, prefix=".ingest-") as tmp:
        try:
            case = read_archive(_opened(archive, passphrase), Path(tmp))
        except ValueError as exc:
            print(f"refused: {exc}; nothing was stored", file=out)
            return 1
        case_id = str(case["id"])
        if case.get("status") not in FINALIZED:
            print(f"refused: case {case_id} was not submitted on its device (it is "
                  f"{case.get('status')}); nothing was stored", file=out)
            return 1
        try:
            # Every field checked before anything is written (server ids come later).
            _submission(case, [(photo, "pending") for photo in case["photos"]], device)
        except (ValidationError, KeyError, TypeError, ValueError) as exc:
            print(f"refused: the archive's case is not a valid submission ({exc}); nothing "
                  "was stored", file=out)
            return 1
        owner = registry.claim(case_id, device)
        if owner != device:
            print(f"refused: case {case_id} belongs to device {owner}", file=out)
            return 1
        held = []
        try:
            for photo in case["photos"]:
                file = Path(photo["path"])
                stored = store.hold_image(case_id, photo["client_image_id"], file,
                                          photo["sha256"], file.stat().st_size)
                held.append((photo, stored.server_image_id))
        except ImageConflictError as conflict:
            print(f"refused: {conflict.detail}", file=out)
            return 1
        try:
            outcome = SubmissionService(store).accept(case_id,
                                                      _submission(case, held, device), device)
        except RequestRefusedError as refused:
            print(f"refused: {refused.detail}", file=out)
            return 1
    stored_submission = outcome.stored
    said = "ingested" if outcome.new else "already held"
    print(f"{said}: case {case_id} revision {stored_submission.revision}, receipt "
          f"{stored_submission.receipt_id}, {len(held)} photo(s)", file=out)
    return 0


def _submission(case: dict[str, Any], held: list[tuple[dict[str, Any], str]],
                device: str) -> Submission:
    images = [SubmissionImage(client_image_id=photo["client_image_id"],
                              server_image_id=server_image_id, slot=photo.get("slot"),
                              sha256=photo["sha256"], latitude=photo.get("latitude"),
                              longitude=photo.get("longitude"),
                              accuracy=photo.get("accuracy"),
                              address=photo.get("address"),
                              address_source=photo.get("address_source"),
                              captured_at=photo.get("captured_at"),
                              captured_at_source=photo.get("captured_at_source"))
              for photo, server_image_id in held]
    return Submission(revision=int(case["revision"]),
                      reference_number=case.get("reference_number"),
                      form_id=case.get("form_id"), form_version=case.get("form_version"),
                      form=case["form"], images=images,
                      finalized_at=case.get("finalized_at"),
                      client=ClientInfo(app_version="archive ingest", device_id=device))
