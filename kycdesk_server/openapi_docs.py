"""What the OpenAPI document says beyond the models: the credential scheme, the error
statuses each route can answer (RFC 9457 problem bodies), and the tus routes' headers.
Schemathesis checks the server against it in CI (tests/test_server_schemathesis.py)."""

from __future__ import annotations

from typing import Any

from fastapi import Path

from kycdesk.core.protocol import UUID_TEXT

CaseIdPath = Path(pattern=UUID_TEXT, description="The case's id (a lowercase UUID)")
UploadIdPath = Path(pattern=r"^[0-9a-f]{32}$", description="The upload's id")

_WHY = {
    400: "Malformed request (bad ids, headers or metadata)",
    401: "No credential, or a wrong one",
    403: "The device or its tablet was revoked (problem type ending `/device-revoked`, "
         "with `proof`); the case belongs to another device (enrolment: the code is not "
         "valid, or the tablet was revoked)",
    404: "No such upload or submission",
    409: "Conflicts with what the server holds (other content under the same id, an older "
         "revision, a wrong offset)",
    410: "The upload expired",
    411: "A JSON body needs a Content-Length",
    412: "Unsupported tus version; for a pull: the cases the device holds differ from "
         "the server's records (pull again with resync)",
    416: "The range is outside the photo",
    413: "Too large (a photo over the limit, a body over 2 MiB)",
    415: "Wrong Content-Type for an upload",
    422: "The body or its content is not valid",
    423: "Another request is still writing this upload",
    429: "Too many uploads at once from this device (Retry-After)",
    431: "Request headers too large",
    460: "The chunk's checksum does not match (tus checksum extension)",
    503: "Too many connections, or the storage is unavailable (Retry-After)",
    507: "The server's disk is full (Retry-After)",
}
_PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


def errors(*codes: int, body: bool = True) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each status with its reason and a problem body (none for
    HEAD, whose answers have no body)."""
    common = (400, 401, 403, 411, 413, 422, 431, 503, 507)
    return {code: {"description": _WHY[code], **({"content": _PROBLEM} if body else {})}
            for code in sorted({*codes, *common})}


TUS_RESUMABLE = {"name": "Tus-Resumable", "in": "header", "required": True,
                 "schema": {"type": "string", "enum": ["1.0.0"]}}


def tus_headers(*extra: dict[str, Any]) -> dict[str, Any]:
    return {"parameters": [TUS_RESUMABLE, *extra]}


def header(name: str, schema: dict[str, Any], *, required: bool = True,
           description: str = "") -> dict[str, Any]:
    return {"name": name, "in": "header", "required": required, "schema": schema,
            "description": description}
