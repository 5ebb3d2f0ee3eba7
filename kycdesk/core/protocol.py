"""The sync contract (v1) as pydantic models: the single source of truth, imported by the
app's client and by the reference server (which also serves it as OpenAPI).

Requests the client builds are strict (`extra="forbid"`); replies tolerate unknown fields
(a newer server may add some) but must carry every documented one, typed, or the reply
is treated as "not the server" (a captive portal answering 200 with HTML is never a
success).
"""

from __future__ import annotations

import base64
import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

API_VERSION = "1"
SHA256_HEX = r"^[0-9a-f]{64}$"
UUID_TEXT = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Reply(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Health(_Reply):
    status: Literal["ok"]
    server_time: datetime
    api_version: str
    max_image_bytes: int = Field(gt=0)


class HeldImage(_Reply):
    client_image_id: str = Field(pattern=UUID_TEXT)
    server_image_id: str = Field(min_length=1)
    sha256: str = Field(pattern=SHA256_HEX)
    byte_size: int = Field(ge=0)


class ImageReceipt(_Reply):
    server_image_id: str = Field(min_length=1)
    sha256: str = Field(pattern=SHA256_HEX)
    byte_size: int = Field(ge=0)


class SubmissionImage(_Request):
    client_image_id: str = Field(pattern=UUID_TEXT)
    server_image_id: str = Field(min_length=1)
    slot: str | None = None
    sha256: str = Field(pattern=SHA256_HEX)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    accuracy: float | None = Field(default=None, ge=0)
    address: str | None = None
    captured_at: str | None = None
    # exif | camera | file | import: how far "taken at" can be trusted (a time without a
    # zone, from EXIF, is the camera's local clock).
    captured_at_source: str | None = None


class ClientInfo(_Request):
    app_version: str
    device_id: str = Field(min_length=1)


class Submission(_Request):
    revision: int = Field(ge=1)
    reference_number: str | None = None
    form_id: str | None = None
    form_version: str | None = None
    form: dict[str, Any]
    images: list[SubmissionImage]
    finalized_at: str | None = None
    client: ClientInfo


class Receipt(_Reply):
    receipt_id: str = Field(min_length=1)
    accepted_at: datetime
    revision: int = Field(ge=1)
    server_image_ids: list[str]


class Problem(BaseModel):
    """RFC 9457 problem details (`missing` lists image ids the server does not hold)."""

    model_config = ConfigDict(extra="allow")
    type: str = "about:blank"
    title: str
    status: int | None = None
    detail: str = ""
    missing: list[str] = Field(default_factory=list)


def repr_digest(sha256_hex: str) -> str:
    """RFC 9530 `Repr-Digest` header value for a SHA-256 given as hex."""
    return "sha-256=:" + base64.b64encode(bytes.fromhex(sha256_hex)).decode() + ":"


_DIGEST = re.compile(r"sha-256=:([A-Za-z0-9+/=]+):")


def parse_repr_digest(header: str | None) -> str | None:
    """The SHA-256 hex from a `Repr-Digest` header, or None if absent or malformed."""
    if not header:
        return None
    match = _DIGEST.search(header)
    if match is None:
        return None
    try:
        raw = base64.b64decode(match.group(1), validate=True)
    except ValueError:
        return None
    return raw.hex() if len(raw) == 32 else None


# -- resumable photo upload: tus 1.0.0 (core, creation, creation-with-upload, expiration,
# termination, checksum) under /v1/uploads; see docs/sync-protocol.md ------------------
TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,creation-with-upload,expiration,termination,checksum"
TUS_CHECKSUM_ALGORITHMS = "sha256"
OFFSET_CONTENT_TYPE = "application/offset+octet-stream"
UPLOADS_PATH = "/v1/uploads"
# Kycdesk's additions on a completed upload (PATCH reply and HEAD): the server's photo id
# and the SHA-256 it computed over the whole stored file (only that confirms a photo).
SERVER_IMAGE_ID_HEADER = "Kycdesk-Server-Image-Id"
# Upload-Metadata keys the server needs to bind an upload to a case's photo.
METADATA_KEYS = ("case_id", "client_image_id", "sha256")


def encode_upload_metadata(values: dict[str, str]) -> str:
    """tus Upload-Metadata: comma-separated `key base64(value)` pairs."""
    return ",".join(f"{key} {base64.b64encode(value.encode()).decode()}"
                    for key, value in values.items())


def parse_upload_metadata(header: str | None) -> dict[str, str] | None:
    """The pairs of an Upload-Metadata header, or None if it is malformed."""
    values: dict[str, str] = {}
    if not header:
        return values
    for pair in header.split(","):
        parts = pair.strip().split(" ")
        if not parts[0] or len(parts) > 2 or parts[0] in values:
            return None
        try:
            values[parts[0]] = (base64.b64decode(parts[1], validate=True).decode()
                                if len(parts) == 2 else "")
        except (ValueError, UnicodeDecodeError):
            return None
    return values


def parse_upload_checksum(header: str | None) -> tuple[str, bytes] | None:
    """tus Upload-Checksum `algorithm base64(digest)`, or None if absent or malformed."""
    if not header:
        return None
    parts = header.strip().split(" ")
    if len(parts) != 2:
        return None
    try:
        return parts[0].lower(), base64.b64decode(parts[1], validate=True)
    except ValueError:
        return None
