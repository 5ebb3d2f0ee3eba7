"""The review's JSON API under /api/office/… (the pages call it; so will the device side
and integrations): thin handlers over ReviewService, the signed-in reviewer a dependency,
refusals as problem bodies (ReviewError's status and title)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from kycdesk.core.protocol import UUID_TEXT
from kycdesk_server.backoffice.export import to_csv
from kycdesk_server.backoffice.identity import Reviewer
from kycdesk_server.backoffice.photo_bytes import OCTET_STREAM, etag, ranged_response
from kycdesk_server.backoffice.queue import (
    PAGE_MAX,
    QueueKey,
    QueuePage,
    QueueQuery,
    QueueSort,
)
from kycdesk_server.backoffice.review import (
    MAX_NOTE,
    CaseDetail,
    CaseNotFoundError,
    Comment,
    Decision,
    DecisionRequest,
    ReasonCode,
    ReviewError,
    RevisionDiff,
)
from kycdesk_server.backoffice.review_states import ReviewChange, ReviewState
from kycdesk_server.backoffice.services import OfficeServices
from kycdesk_server.backoffice.web import (
    API,
    SignedInReviewer,
    client_address,
    is_api,
    problem,
    render,
    services,
)

router = APIRouter(prefix=API, tags=["review"])

CaseId = Annotated[str, Path(pattern=UUID_TEXT, description="The case's id")]
ImageId = Annotated[str, Path(pattern=UUID_TEXT, description="The photo's client image id")]
_PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
_WHY = {400: "A malformed body",
        401: "No live back-office session",
        403: "CSRF token missing, or the role may not do this",
        404: "No such case, revision or photo",
        409: "The case moved on: a newer revision arrived (stale decision), another "
             "reviewer has it, or its state does not allow this; or the decision names a "
             "reason code, field or photo the server does not have for it",
        416: "The range is outside the photo", 422: "The request is not valid"}
EXPORT_COLUMNS = ["decision_id", "case_id", "reference", "applicant", "revision", "decision",
                  "reason_code", "note", "decided_by", "decided_at", "comments"]


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"description": _WHY[code], "content": _PROBLEM}
            for code in sorted({400, 401, 422, *codes})}


async def review_refused(request: Request, exc: Exception) -> Response:
    """A ReviewError as its problem body; a page shows it in words."""
    assert isinstance(exc, ReviewError)
    status, title, detail = exc.status, exc.title, exc.detail
    if is_api(request):
        return problem(status, title, detail)
    return render(request, "error.html", status_code=status, title=title, message=detail)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FieldComment(_Body):
    field_key: str = Field(min_length=1, max_length=200, description="The field's key")
    text: str = Field(min_length=1, max_length=MAX_NOTE, pattern=r"\S")


class PhotoComment(_Body):
    client_image_id: str = Field(pattern=UUID_TEXT, description="The photo's client id")
    text: str = Field(min_length=1, max_length=MAX_NOTE, pattern=r"\S")


_REVISION = Field(ge=1, le=2**31 - 1, description="The revision the reviewer read (a newer "
                                                  "one on the server: 409)")


class Approve(_Body):
    revision: int = _REVISION
    decision: Literal["approve"]
    note: str = Field(default="", max_length=MAX_NOTE)


class Reject(_Body):
    revision: int = _REVISION
    decision: Literal["reject"]
    reason_code: str = Field(min_length=1, max_length=64,
                             description="One of GET /api/office/reason-codes")
    note: str = Field(min_length=1, max_length=MAX_NOTE, pattern=r"\S",
                      description="Why (required)")


class Return(_Body):
    revision: int = _REVISION
    decision: Literal["return"]
    note: str = Field(default="", max_length=MAX_NOTE)
    comments: list[FieldComment | PhotoComment] = Field(min_length=1, max_length=200)


DecisionBody = Annotated[Approve | Reject | Return, Field(discriminator="decision")]


class AssignBody(BaseModel):
    assignee_id: str | None = Field(default=None, max_length=64,
                                    description="The account to give the case to; omitted: "
                                                "the signed-in reviewer (assign to me)")


@router.get("/cases", response_model=QueuePage, responses=errors(),
            summary="The review queue: filter, search, sort; keyset pages (`next`)")
async def queue(request: Request, reviewer: SignedInReviewer, *,
                state: ReviewState | None = None,
                assignee: Annotated[str | None, Query(
                    max_length=64, description="An account id, `me`, or `none` "
                                               "(unassigned)")] = None,
                q: Annotated[str, Query(max_length=200, description="Reference, name or "
                                                                    "ID number")] = "",
                sort: QueueSort = QueueSort.RECEIVED,
                order: Literal["asc", "desc"] = "asc",
                after: Annotated[str | None, Query(
                    max_length=400, description="Start after this sort value (the "
                                                "previous page's `next.after`)")] = None,
                after_id: Annotated[str, Query(
                    max_length=64, description="…and this case id (`next.after_id`)")] = "",
                limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = 50) -> QueuePage:
    query = QueueQuery(state=state, assignee=reviewer.id if assignee == "me" else assignee,
                       search=q, sort=sort, descending=order == "desc", limit=limit,
                       start_after=QueueKey(after, after_id) if after is not None else None)
    return await asyncio.to_thread(services(request).review.queue, query)


@router.get("/reason-codes", response_model=list[ReasonCode], responses=errors(),
            summary="The reasons a rejection may give (configurable)")
async def reason_codes(request: Request, _reviewer: SignedInReviewer) -> list[ReasonCode]:
    return await asyncio.to_thread(services(request).review.reason_codes)


@router.get("/cases/{case_id}", response_model=CaseDetail, responses=errors(404),
            summary="A case as a reviewer reads it: answers by step, photos, validation, "
                    "revisions and the diff, decisions")
async def case(request: Request, _reviewer: SignedInReviewer, case_id: CaseId) -> CaseDetail:
    return await asyncio.to_thread(services(request).review.case, case_id)


@router.get("/cases/{case_id}/diff", response_model=RevisionDiff, responses=errors(404),
            summary="Field-by-field differences between two revisions")
async def diff(request: Request, _reviewer: SignedInReviewer, case_id: CaseId,
               from_revision: Annotated[int, Query(alias="from", ge=1)],
               to_revision: Annotated[int, Query(alias="to", ge=1)]) -> RevisionDiff:
    return await asyncio.to_thread(services(request).review.revision_diff, case_id,
                                   from_revision, to_revision)


@router.post("/cases/{case_id}/assignment", response_model=CaseDetail,
             responses=errors(403, 404, 409),
             summary="Take the case (assign to me), or give it to another account "
                     "(supervisors and admins)")
async def assign(request: Request, reviewer: SignedInReviewer, case_id: CaseId,
                 body: AssignBody) -> CaseDetail:
    office = services(request)

    def run() -> CaseDetail:
        return office.review.assign(reviewer, case_id,
                                    assignee_for(office, reviewer, body.assignee_id),
                                    address=client_address(request))
    return await asyncio.to_thread(run)


def assignee_for(office: OfficeServices, reviewer: Reviewer,
                 assignee_id: str | None) -> Reviewer:
    """The account a case is given to: the reviewer themself (no id), or an active
    account (blocking: a thread)."""
    if not assignee_id or assignee_id == reviewer.id:
        return reviewer
    account = office.accounts.get(assignee_id)
    if account is None or account.disabled_at is not None:
        raise CaseNotFoundError("No active account with this id.")
    return account.reviewer()


@router.post("/cases/{case_id}/decisions", response_model=Decision, status_code=201,
             responses=errors(404, 409),
             summary="Approve; reject with a reason code and a note; or return to the "
                     "verifier with comments on fields and photos")
async def decide(request: Request, reviewer: SignedInReviewer, case_id: CaseId,
                 body: DecisionBody) -> Decision:
    decision = DecisionRequest(
        revision=body.revision, decision=ReviewChange(body.decision),
        reason_code=body.reason_code if isinstance(body, Reject) else None, note=body.note,
        comments=[Comment(c.text, field_key=c.field_key) if isinstance(c, FieldComment)
                  else Comment(c.text, client_image_id=c.client_image_id)
                  for c in (body.comments if isinstance(body, Return) else [])])
    return await asyncio.to_thread(services(request).review.decide, reviewer, case_id,
                                   decision, address=client_address(request))


@router.get("/cases/{case_id}/decisions", response_model=list[Decision],
            responses=errors(404), summary="Every decision on the case, with its comments")
async def decisions(request: Request, _reviewer: SignedInReviewer,
                    case_id: CaseId) -> list[Decision]:
    review = services(request).review

    def run() -> list[Decision]:
        review.case(case_id)  # 404 for a case the server does not hold
        return review.decisions(case_id)
    return await asyncio.to_thread(run)


@router.get("/cases/{case_id}/photos/{client_image_id}", response_class=Response,
            responses={**errors(404, 416), 200: {"description": "The photo's bytes",
                                                 "content": {"image/*": {}}},
                       206: {"description": "The requested byte range"},
                       304: {"description": "Not modified (If-None-Match)"}},
            summary="A photo's bytes (type sniffed by the server, strong ETag = SHA-256, "
                    "single byte ranges)")
async def photo(request: Request, _reviewer: SignedInReviewer, case_id: CaseId,
                client_image_id: ImageId) -> Response:
    review = services(request).review
    held = await asyncio.to_thread(review.photo, case_id, client_image_id)
    tag = etag(held.sha256)
    headers = {"ETag": tag, "Accept-Ranges": "bytes"}  # nosniff: on every office answer
    if tag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    media_type = await asyncio.to_thread(review.photo_type, held)
    if media_type == OCTET_STREAM:  # not an image: a download, never rendered
        headers["Content-Disposition"] = f'attachment; filename="{client_image_id}.bin"'
    return ranged_response(request, tag=tag, size=held.byte_size, media_type=media_type,
                           headers=headers,
                           body=lambda start, end: review.photo_bytes(held, start, end))


@router.get("/decisions/export.csv", response_class=Response,
            responses={**errors(), 200: {"content": {"text/csv": {}},
                                         "description": "One row per decision"}},
            summary="Decisions as CSV (formula-looking cells quoted as text)")
async def export_csv(request: Request, _reviewer: SignedInReviewer,
                     since: Annotated[str | None, Query(max_length=40)] = None) -> Response:
    rows = await asyncio.to_thread(lambda: list(services(request).review.export(since)))
    return StreamingResponse(to_csv(rows, EXPORT_COLUMNS), media_type="text/csv",
                             headers={"Content-Disposition":
                                      'attachment; filename="decisions.csv"'})


@router.get("/decisions/export.json", response_class=Response,
            responses={**errors(), 200: {"content": {"application/x-ndjson": {}},
                                         "description": "One JSON object per line"}},
            summary="Decisions as JSON lines (from `since`, inclusive: key on decision_id)")
async def export_json(request: Request, _reviewer: SignedInReviewer,
                      since: Annotated[str | None, Query(max_length=40)] = None) -> Response:
    rows = await asyncio.to_thread(lambda: list(services(request).review.export(since)))

    def lines() -> Iterator[str]:
        for row in rows:
            yield json.dumps(row, ensure_ascii=False) + "\n"
    return StreamingResponse(lines(), media_type="application/x-ndjson")

