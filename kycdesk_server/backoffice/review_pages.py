"""The review's pages: the queue and the case page (server-rendered from ReviewService,
the same service the JSON API wraps; photos load from the API's photo route). The forms
post here (CSRF checked by the session dependency) and redirect back (post/redirect/get).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from kycdesk_server import feed
from kycdesk_server.backoffice.queue import (
    PAGE_MAX,
    UNASSIGNED,
    QueueKey,
    QueueQuery,
    QueueSort,
)
from kycdesk_server.backoffice.review import (
    Comment,
    DecisionRequest,
    InvalidDecisionError,
)
from kycdesk_server.backoffice.review_api import CaseId, assignee_for
from kycdesk_server.backoffice.review_states import LABELS, OPEN, ReviewChange, ReviewState
from kycdesk_server.backoffice.web import (
    PAGES,
    SignedInReviewer,
    client_address,
    render,
    services,
)

router = APIRouter(prefix=PAGES, include_in_schema=False)
CAPTURE_SOURCES = {"exif": "from the photo's EXIF data", "camera": "by the app's camera",
                   "file": "file time (may not be when it was taken)",
                   "import": "time of import (not when it was taken)"}


@router.get("/queue")
async def queue_page(request: Request, reviewer: SignedInReviewer, *, state: str = "",
                     assignee: str = "", q: str = "", sort: QueueSort = QueueSort.RECEIVED,
                     order: Literal["asc", "desc"] = "asc", after: str | None = None,
                     after_id: str = "", limit: int = 50) -> Response:
    filters = {"state": state, "assignee": assignee, "q": q[:200], "sort": sort.value,
               "order": order}
    office = services(request)
    accounts = await asyncio.to_thread(office.accounts.list)
    known = {a.id for a in accounts}
    query = QueueQuery(
        state=ReviewState(state) if state in set(ReviewState) else None,
        assignee=reviewer.id if assignee == "me" else (
            assignee if assignee == UNASSIGNED or assignee in known else None),
        search=q[:200], sort=sort, descending=order == "desc",
        start_after=QueueKey(after[:400], after_id[:64]) if after is not None else None,
        limit=max(1, min(limit, PAGE_MAX)))
    page = await asyncio.to_thread(office.review.queue, query)
    here = {k: v for k, v in filters.items() if v}
    this_page = {**here, "after": after, "after_id": after_id} if after is not None else here
    return render(request, "queue.html", page=page, filters=filters, labels=LABELS,
                  accounts=[a for a in accounts if a.disabled_at is None],
                  states=list(ReviewState), sorts=list(QueueSort), open_states=OPEN,
                  first_url=f"{PAGES}/queue?{urlencode(here)}",
                  next_url=(f"{PAGES}/queue?" + urlencode(
                      {**here, "after": page.next.after, "after_id": page.next.after_id})
                      if page.next else None),
                  back=f"{PAGES}/queue?{urlencode(this_page)}")


@router.get("/cases/{case_id}")
async def case_page(request: Request, reviewer: SignedInReviewer, case_id: CaseId, *,
                    done: str = "", from_revision: int | None = None,
                    to_revision: int | None = None) -> Response:
    office = services(request)
    detail = await asyncio.to_thread(office.review.case, case_id)
    compared = detail.diff
    if from_revision is not None and to_revision is not None:  # any two, on request
        compared = await asyncio.to_thread(office.review.revision_diff, case_id,
                                           from_revision, to_revision)
    codes = await asyncio.to_thread(office.review.reason_codes)
    accounts = await asyncio.to_thread(office.accounts.list) if reviewer.may_assign() else []
    fields = [(a.key, f"{s.title}: {a.label}") for s in detail.steps for a in s.answers]
    # A supervisor corrects an answer of a case a tablet holds (it reaches the tablet).
    held = reviewer.may_assign() and bool(
        await asyncio.to_thread(feed.holders, office.review.db, case_id))
    return render(request, "case.html", case=detail, diff=compared, labels=LABELS,
                  reason_codes=codes,
                  accounts=[a for a in accounts if a.disabled_at is None],
                  comment_targets=fields, sources=CAPTURE_SOURCES, done=done,
                  may_correct=held,
                  may_decide=(detail.state in OPEN and detail.assignee_id in (None, reviewer.id))
                  or (detail.state in OPEN and reviewer.may_assign()),
                  problems={p.key: p.message for p in detail.validation})


def _back(case_id: str, done: str) -> Response:
    return RedirectResponse(f"{PAGES}/cases/{case_id}?done={done}", status_code=303)


@router.post("/cases/{case_id}/assign")
async def assign(request: Request, reviewer: SignedInReviewer, case_id: CaseId,
                 back: Annotated[str, Form(max_length=2000)] = "",
                 assignee_id: Annotated[str, Form(max_length=64)] = "") -> Response:
    office = services(request)

    def run() -> None:
        office.review.assign(reviewer, case_id, assignee_for(office, reviewer, assignee_id),
                             address=client_address(request))
    await asyncio.to_thread(run)
    if back.startswith(f"{PAGES}/queue"):  # only back to our own queue page
        return RedirectResponse(back, status_code=303)
    return _back(case_id, "assigned")


@router.post("/cases/{case_id}/decide")
async def decide(request: Request, reviewer: SignedInReviewer, case_id: CaseId) -> Response:
    form = await request.form()
    decision = _decision(str(form.get("decision", "")))
    comments = []
    for target, text in zip(form.getlist("target"), form.getlist("comment"), strict=False):
        if not isinstance(target, str) or not isinstance(text, str) or not text.strip():
            continue
        kind, _, key = target.partition(":")
        comments.append(Comment(text.strip(), field_key=key if kind == "field" else None,
                                client_image_id=key if kind == "photo" else None))
    request_ = DecisionRequest(
        revision=_revision(str(form.get("revision", ""))), decision=decision,
        reason_code=str(form.get("reason_code") or "") or None,
        note=str(form.get("note") or "").strip(), comments=comments)
    await asyncio.to_thread(services(request).review.decide, reviewer, case_id, request_,
                            address=client_address(request))
    return _back(case_id, decision.value)


def _decision(value: str) -> ReviewChange:
    if value not in ("approve", "reject", "return"):
        raise InvalidDecisionError("A decision is approve, reject or return.")
    return ReviewChange(value)


def _revision(value: str) -> int:
    if not value.isascii() or not value.isdigit() or len(value) > 10:
        raise InvalidDecisionError("The form did not say which revision was read.")
    return int(value)
