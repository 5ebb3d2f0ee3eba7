"""The back office's JSON API (`/api/office/…`), documented in the server's OpenAPI.
The review routes join this prefix; here: who is signed in."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from kycdesk_server.backoffice.identity import Role
from kycdesk_server.backoffice.web import API, SignedInReviewer

router = APIRouter(prefix=API, tags=["back office"])


class Me(BaseModel):
    id: str
    username: str
    role: Role


@router.get("/me", response_model=Me, summary="The signed-in back-office account "
                                               "(session cookie)",
            responses={401: {"description": "No live back-office session"}})
async def me(_request: Request, reviewer: SignedInReviewer) -> Me:
    return Me(id=reviewer.id, username=reviewer.username, role=reviewer.role)
