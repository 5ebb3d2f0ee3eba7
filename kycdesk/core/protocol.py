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
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator

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


ENROL_PATH = "/v1/enrolments"


class Enrolment(_Request):
    """A device trades a one-time code from its administrator for its credential. A
    tablet enrols each verifier's store as a device of its own, naming the tablet (its
    random id, which groups them for revocation) and the verifier."""

    code: str = Field(min_length=4, max_length=64)
    device_name: str = Field(default="", max_length=100)
    tablet_id: str | None = Field(default=None, min_length=1, max_length=64)
    verifier_name: str | None = Field(default=None, max_length=100)


B64_32 = r"^[A-Za-z0-9+/]{43}=$"  # the standard base64 of 32 bytes


class EnrolledDevice(_Reply):
    device_id: str = Field(min_length=1, max_length=64)
    credential: str = Field(min_length=20, max_length=200)
    # Base64 of the device's 32-byte office secret (kycdesk/core/office_codes.py); None
    # from a server before issue 18.
    office_secret: str | None = Field(default=None, pattern=B64_32)
    # Base64 of the organisation's X25519 recovery public key; None until the office
    # sets one (`kycdesk-server org-key set`).
    org_recovery_key: str | None = Field(default=None, pattern=B64_32)


LEASE_PATH = "/v1/lease"
# A revoked device's (or revoked tablet's) every authenticated call: 403 with this
# problem type and `proof` (office_codes.revocation_proof).
DEVICE_REVOKED_TYPE = "/problems/device-revoked"


class Lease(_Reply):
    """Until when the tablet may work without reaching the server, and the office
    secret's proof of it (office_codes.lease_proof over this exact `expires_at`)."""

    expires_at: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
    proof: str = Field(pattern=SHA256_HEX)


class HeldImage(_Reply):
    client_image_id: str = Field(pattern=UUID_TEXT)
    server_image_id: str = Field(min_length=1)
    sha256: str = Field(pattern=SHA256_HEX)
    byte_size: int = Field(ge=0)


class ImageReceipt(_Reply):
    server_image_id: str = Field(min_length=1)
    sha256: str = Field(pattern=SHA256_HEX)
    byte_size: int = Field(ge=0)


# Bounds every request stays within (a server must answer anything else with 4xx, never
# fall over): what a real KYC form and its photos need, with room to spare.
MAX_REVISION = 2**31 - 1
MAX_FORM_DEPTH = 16        # the form is flat key -> value; lists of choices nest a little
MAX_FORM_FIELDS = 2000
MAX_IMAGES = 200
MAX_TEXT = 4000            # one answer or address
MAX_SUBMISSION_BYTES = 2 * 1024 * 1024


def _depth_and_size(value: Any) -> tuple[int, int]:
    """Nesting depth and number of values of a JSON value, without recursion."""
    deepest, count = 0, 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        count += 1
        deepest = max(deepest, depth)
        if depth > MAX_FORM_DEPTH:
            break
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest, count


class SubmissionImage(_Request):
    client_image_id: str = Field(pattern=UUID_TEXT)
    server_image_id: str = Field(min_length=1, max_length=64)
    slot: str | None = Field(default=None, max_length=64)
    sha256: str = Field(pattern=SHA256_HEX)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    accuracy: float | None = Field(default=None, ge=0)
    # Where the photo was taken in words, never a street address ("near Nairobi, Nairobi
    # Area, Kenya"), and how the device found them ("nearest place, 3 km": the offline
    # GeoNames finder, core/places.py). Both absent for a photo without GPS.
    address: str | None = Field(default=None, max_length=MAX_TEXT)
    address_source: str | None = Field(default=None, max_length=200)
    captured_at: str | None = Field(default=None, max_length=64)
    # exif | camera | file | import: how far "taken at" can be trusted (a time without a
    # zone, from EXIF, is the camera's local clock).
    captured_at_source: str | None = Field(default=None, max_length=16)
    # The retake checks at capture (blurred, glare, dark, small) found these, and the
    # verifier kept the photo anyway (`retake_overridden`): the reviewer sees both.
    retake_suggested: list[Annotated[str, Field(max_length=16)]] = Field(
        default_factory=list, max_length=8)
    retake_overridden: bool = False


class ClientInfo(_Request):
    app_version: str = Field(max_length=64)
    device_id: str = Field(min_length=1, max_length=100)


class Submission(_Request):
    # Strict: "1" (a string) or true is refused, not coerced — a revision is a number.
    revision: StrictInt = Field(ge=1, le=MAX_REVISION)
    reference_number: str | None = Field(default=None, max_length=100)
    form_id: str | None = Field(default=None, max_length=100)
    form_version: str | None = Field(default=None, max_length=100)
    form: dict[str, Any]
    images: list[SubmissionImage] = Field(max_length=MAX_IMAGES)
    finalized_at: str | None = Field(default=None, max_length=64)
    client: ClientInfo
    # Field-level audit (issue 17): every change of an answer on the device, oldest first.
    history: list[FieldHistoryEntry] = Field(default_factory=list, max_length=20_000)

    @field_validator("form")
    @classmethod
    def _bounded(cls, form: dict[str, Any]) -> dict[str, Any]:
        depth, size = _depth_and_size(form)
        if depth > MAX_FORM_DEPTH:
            raise ValueError(f"the form nests deeper than {MAX_FORM_DEPTH} levels")
        if size > MAX_FORM_FIELDS * 4:
            raise ValueError(f"the form holds more than {MAX_FORM_FIELDS * 4} values")
        return form


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
TUS_CHECKSUM_ALGORITHMS = "sha1,sha256"  # sha1: a MUST of the checksum extension
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


# -- two-way: the device's pull (issue 17; docs/sync-protocol.md "Pull") -----------------
# The device asks "what changed for me since token T"; the server answers the changes in
# the order it recorded them (a per-device feed written in the same transaction as the
# event: an assignment, a return, a decision, an office correction, a handover, a pushed
# form), then a new token. The device applies a page and stores the new token in one
# transaction, so a page is applied exactly once however often it is fetched.
PULL_PATH = "/v1/pull"
MAX_PULL_LIMIT = 500
# The held-cases digest: the XOR of SHA-256(case_id as UTF-8) over every case the device
# holds with the server's authority (delivered by a pull, or a submission of its own the
# server acknowledged; minus cases handed away), as 64 hex, with their count. Order-free
# and updatable one case at a time, so neither side has to read every case to compute it.
EMPTY_HELD_DIGEST = "0" * 64


class PullRequest(_Request):
    token: str | None = Field(default=None, max_length=200)  # None: from the beginning
    held_digest: str = Field(pattern=SHA256_HEX)
    held_count: StrictInt = Field(ge=0, le=10_000_000)
    limit: StrictInt = Field(default=200, ge=1, le=MAX_PULL_LIMIT)
    # After a 412: the server answers the current state of every case the device should
    # hold (kind "case_state", paged), the list the device reconciles against.
    resync: StrictBool = False


class FieldComment(_Reply):
    field_key: str | None = Field(default=None, max_length=200)
    client_image_id: str | None = Field(default=None, pattern=UUID_TEXT)
    text: str = Field(max_length=MAX_TEXT)
    author: str = Field(max_length=200)
    at: str = Field(max_length=64)


class PulledPhoto(_Reply):
    """A photo of a case the device receives (handover, office attachment): its bytes come
    from GET /v1/cases/{case_id}/images/{client_image_id} (ranges, Repr-Digest)."""

    client_image_id: str = Field(pattern=UUID_TEXT)
    server_image_id: str = Field(min_length=1, max_length=64)
    sha256: str = Field(pattern=SHA256_HEX)
    byte_size: int = Field(ge=0)
    slot: str | None = Field(default=None, max_length=64)
    latitude: float | None = None
    longitude: float | None = None
    accuracy: float | None = None
    # Where the photo was taken in words, never a street address ("near Nairobi, Nairobi
    # Area, Kenya"), and how the device found them ("nearest place, 3 km": the offline
    # GeoNames finder, core/places.py). Both absent for a photo without GPS.
    address: str | None = Field(default=None, max_length=MAX_TEXT)
    address_source: str | None = Field(default=None, max_length=200)
    captured_at: str | None = Field(default=None, max_length=64)


ChangeKind = Literal[
    "assigned",          # a supervisor created a case for this device (a new draft here)
    "returned",          # a reviewer returned a revision with comments
    "decided",           # approved / rejected (with reason) — read-only on the device
    "office_edit",       # the office changed an answer (e.g. corrected a prefilled one)
    "handover_out",      # send what is unsent, then drop the local copy (ack: release)
    "handover_in",       # the case (answers + photos) now belongs to this device
    "handover_refused",  # a handover request from this device was refused
    "withdrawn",         # an assignment was cancelled before anything was sent
    "form",              # a form definition (new version) for new cases
    "case_state",        # resync: the whole current state of one held case
]


class PulledChange(_Reply):
    """One change. `seq` orders them; fields not used by a kind are left out."""

    seq: int = Field(ge=1)
    kind: ChangeKind
    case_id: str | None = Field(default=None, pattern=UUID_TEXT)
    at: str = Field(max_length=64)
    by: str = Field(default="", max_length=200)             # who did it in the office
    revision: int | None = Field(default=None, ge=0)         # the revision it applies to
    reference_number: str | None = Field(default=None, max_length=100)
    applicant_name: str | None = Field(default=None, max_length=MAX_TEXT)
    address: str | None = Field(default=None, max_length=MAX_TEXT)
    due_date: str | None = Field(default=None, max_length=10)  # YYYY-MM-DD
    form_id: str | None = Field(default=None, max_length=100)
    form_version: str | None = Field(default=None, max_length=100)
    form: dict[str, Any] = Field(default_factory=dict)        # answers (assigned: prefill)
    prefilled: list[str] = Field(default_factory=list)        # keys the office prefilled
    photos: list[PulledPhoto] = Field(default_factory=list)
    comments: list[FieldComment] = Field(default_factory=list)
    decision: Literal["approved", "rejected", "returned"] | None = None
    reason_code: str | None = Field(default=None, max_length=100)
    reason_label: str | None = Field(default=None, max_length=400)
    note: str = Field(default="", max_length=MAX_TEXT)
    field_key: str | None = Field(default=None, max_length=200)   # office_edit
    value: Any = None                                              # office_edit
    base_value: Any = None    # office_edit: the value the office changed from
    definition: dict[str, Any] | None = None                       # form
    definition_sha256: str | None = Field(default=None, pattern=SHA256_HEX)  # form


class PullReply(_Reply):
    token: str = Field(min_length=1, max_length=200)
    changes: list[PulledChange]
    more: bool  # another page is waiting: pull again at once with the new token




class HandoverRequest(_Request):
    """A device holds a copy of a case another device owns (an imported export) and asks
    the office to hand it over: POST /v1/cases/{case_id}/handover-requests (202)."""

    reason: str = Field(default="", max_length=MAX_TEXT)
    reference_number: str | None = Field(default=None, max_length=100)


class Release(_Request):
    """After a handover_out: the old device has sent all it had (`last_revision` the
    newest the server acknowledged from it) and lets the case go:
    POST /v1/cases/{case_id}/release (200)."""

    last_revision: StrictInt = Field(ge=0, le=MAX_REVISION)


class FieldHistoryEntry(_Request):
    """Field-level audit sent with a submission (Submission.history): each change of an
    answer on the device, since the case was created there."""

    field_key: str = Field(max_length=200)
    old: Any = None
    new: Any = None
    at: str = Field(max_length=64)
    by: str = Field(default="", max_length=200)
    # document: read from an ID document (MRZ or PDF417) and confirmed by the verifier
    why: Literal["typed", "returned", "prefilled", "merged", "office", "document"] = "typed"
    note: str = Field(default="", max_length=MAX_TEXT)


Submission.model_rebuild()  # `history` names a model defined after it
