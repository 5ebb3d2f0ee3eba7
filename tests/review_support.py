"""Cases for the review tests, taken in the way a tablet sends them: photos held through
the server's upload path, submissions through the acceptance rules (the store directly
for service tests; the real server's API for the API and browser tests)."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Any

import httpx

from kycdesk.core.protocol import ClientInfo, Submission, SubmissionImage
from kycdesk_server.services.submissions import SubmissionService
from kycdesk_server.storage import ServerStore
from tests.sync_support import TOKEN, tus_upload

FORM_ID, FORM_VERSION = "individual_kyc", "2"
FORM = {"form_id": FORM_ID, "form_version": FORM_VERSION}


def answers(first: str = "Ada", last: str = "Lovelace", document: str = "P1234567",
            **more: Any) -> dict[str, Any]:
    return {"applicant.first_name": first, "applicant.last_name": last,
            "identity.document_number": document, "identity.document_type": "passport",
            **more}


def jpeg(seed: int = 0, size: tuple[int, int] = (64, 48), label: str = "") -> bytes:
    """A real JPEG that differs per seed (with a label drawn on it, for the browser)."""
    from io import BytesIO

    from PIL import Image, ImageDraw

    picture = Image.new("RGB", size, ((seed * 37) % 256, 120, 200))
    if label:
        draw = ImageDraw.Draw(picture)
        draw.rectangle((size[0] // 10, size[1] // 6, size[0] * 9 // 10, size[1] * 5 // 6),
                       outline=(255, 255, 255), width=6)
        draw.text((size[0] // 8, size[1] // 5), label, fill=(255, 255, 255),
                  font_size=size[1] // 8)
    out = BytesIO()
    picture.save(out, "JPEG", quality=90)
    return out.getvalue()


def image_entry(client_image_id: str, server_image_id: str, data: bytes, slot: str,
                **extra: Any) -> dict[str, Any]:
    return {"client_image_id": client_image_id, "server_image_id": server_image_id,
            "slot": slot, "sha256": hashlib.sha256(data).hexdigest(), **extra}


def submit_to_store(store: ServerStore, tmp: Path, case_id: str, revision: int,
                    values: dict[str, Any], photos: list[tuple[str, bytes, str]] | None = None,
                    *, reference: str | None = None, device: str = "lab-device") -> None:
    """Hold each (client image id, bytes, slot) photo, then accept the submission."""
    images = []
    for client_image_id, data, slot in photos or []:
        file = tmp / f"{uuid.uuid4().hex}.jpg"
        file.write_bytes(data)
        held = store.hold_image(case_id, client_image_id, file,
                                hashlib.sha256(data).hexdigest(), len(data))
        images.append(SubmissionImage(**image_entry(
            client_image_id, held.server_image_id, data, slot,
            captured_at="2026-12-01T10:00:00Z", captured_at_source="exif",
            latitude=51.5, longitude=-0.12, accuracy=8.0)))
    outcome = SubmissionService(store).accept(case_id, Submission(
        revision=revision, reference_number=reference, form=values, images=images,
        client=ClientInfo(app_version="test", device_id=device), form_id=FORM_ID,
        form_version=FORM_VERSION), device)
    assert outcome.new, outcome


def submit_over_api(base_url: str, case_id: str, revision: int, values: dict[str, Any],
                    photos: list[tuple[str, bytes, str]], *,
                    reference: str | None = None, form: dict[str, str] | None = None,
                    image_extra: dict[str, dict[str, Any]] | None = None) -> None:
    """The real server's API: tus uploads of the photos, then the submission."""
    images = []
    for client_image_id, data, slot in photos:
        reply = tus_upload(base_url, case_id, client_image_id, data)
        assert reply.status_code == 204, reply.text
        images.append(image_entry(client_image_id,
                                  reply.headers["kycdesk-server-image-id"], data, slot,
                                  captured_at="2026-12-01T10:00:00Z",
                                  captured_at_source="camera", latitude=51.5,
                                  longitude=-0.12, accuracy=8.0,
                                  **(image_extra or {}).get(client_image_id, {})))
    body = {"revision": revision, "reference_number": reference, **(form or FORM),
            "form": values,
            "images": images, "client": {"app_version": "test", "device_id": "lab"}}
    reply = httpx.put(f"{base_url}/v1/cases/{case_id}/submission", json=body, timeout=10,
                      headers={"Authorization": f"Bearer {TOKEN}"})
    assert reply.status_code in (200, 201), reply.text
