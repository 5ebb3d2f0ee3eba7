"""The back office's own pages: sign-in, TOTP enrolment, sign-out, and the landing page
(replaced by the review queue). Thin: the work is in AccountService / SessionStore."""

from __future__ import annotations

import asyncio
import secrets
from typing import Annotated

import segno
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup

from kycdesk_server.backoffice.accounts import AccountError, SignedIn
from kycdesk_server.backoffice.sessions import Stage
from kycdesk_server.backoffice.web import (
    LANDING,
    PAGES,
    SESSION_COOKIE,
    SIGN_IN,
    SIGNIN_COOKIE,
    TOTP_ENROL,
    LiveSession,
    check_csrf,
    client_address,
    render,
    services,
)

router = APIRouter(prefix=PAGES, include_in_schema=False)

WRONG = "The username, password or code is not right. Check them and try again."
SIGNED_OUT = "You are signed out."

def _set_session_cookie(response: Response, token: str) -> None:
    # No Max-Age: the cookie goes when the browser closes; the server's expiries rule.
    response.set_cookie(SESSION_COOKIE, token, httponly=True, secure=True,
                        samesite="strict", path="/")

def _sign_in_page(request: Request, *, status_code: int = 200, error: str = "",
                  notice: str = "", username: str = "") -> Response:
    token = request.cookies.get(SIGNIN_COOKIE) or secrets.token_urlsafe(32)
    response = render(request, "sign_in.html", status_code=status_code, error=error,
                      notice=notice, username=username, csrf_token=token)
    response.set_cookie(SIGNIN_COOKIE, token, httponly=True, secure=True,
                        samesite="strict", path="/")
    return response

@router.get("", include_in_schema=False)
@router.get("/", include_in_schema=False)
async def home() -> Response:
    return RedirectResponse(LANDING, status_code=303)

@router.get("/sign-in")
async def sign_in_form(request: Request, signed_out: int = 0) -> Response:
    return _sign_in_page(request, notice=SIGNED_OUT if signed_out else "")

@router.post("/sign-in")
async def sign_in(request: Request, username: Annotated[str, Form()] = "",
                  password: Annotated[str, Form()] = "",
                  code: Annotated[str, Form()] = "") -> Response:
    # No max_length on the fields: an over-long value is simply wrong (the same page and
    # message), not a JSON validation error in a person's browser. The request body's own
    # limit bounds them all.
    # No session yet: the form's token is the double-submitted sign-in cookie.
    await check_csrf(request, request.cookies.get(SIGNIN_COOKIE, ""))
    office = services(request)
    address = client_address(request)
    outcome = await asyncio.to_thread(office.accounts.sign_in, username, password, code,
                                      address=address)
    if not isinstance(outcome, SignedIn):
        if outcome.reason == "locked":
            minutes = max(1, (outcome.retry_after_s + 59) // 60)
            return _sign_in_page(
                request, status_code=429, username=username,
                error=f"Too many failed sign-ins for this account or from this address. "
                      f"Try again in {minutes} minute{'s' if minutes > 1 else ''}.")
        return _sign_in_page(request, status_code=401, username=username, error=WRONG)
    stage: Stage = "enrol_totp" if outcome.must_enrol_totp else "signed_in"
    token = await asyncio.to_thread(office.sessions.start, outcome.reviewer.id, stage,
                                    address, request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse(TOTP_ENROL if outcome.must_enrol_totp else LANDING,
                                status_code=303)
    _set_session_cookie(response, token)
    response.delete_cookie(SIGNIN_COOKIE, path="/", secure=True, httponly=True,
                           samesite="strict")
    return response

@router.get("/totp")
async def totp_form(request: Request,
                    session: LiveSession) -> Response:
    """A new secret, shown once (a reload shows another and forgets this one)."""
    try:
        enrolment = await asyncio.to_thread(
            services(request).accounts.start_totp, session.reviewer.id,
            by=session.reviewer, address=client_address(request))
    except AccountError as exc:
        return render(request, "error.html", status_code=409,
                      title="Two-step sign-in is set up", message=str(exc))
    qr = segno.make(enrolment.uri, error="m")
    return render(request, "totp.html", secret=enrolment.secret_text, uri=enrolment.uri,
                  required=session.stage == "enrol_totp",
                  # segno's SVG: a path with attributes only (nothing the CSP refuses).
                  qr=Markup(qr.svg_inline(scale=4, title="QR code of the TOTP secret")))

@router.post("/totp")
async def totp_confirm(request: Request, session: LiveSession,
                       code: Annotated[str, Form()] = "") -> Response:
    office = services(request)
    address = client_address(request)
    if not await asyncio.to_thread(office.accounts.confirm_totp, session.reviewer.id, code,
                                   address=address):
        return render(request, "totp.html", status_code=400, secret="", uri="", qr="",
                      required=session.stage == "enrol_totp",
                      error="That code does not match. Enter the code your app shows now, "
                            "or start again for a new secret.")
    # Proven: a new session in full stage (the enrolment one dies).
    token = await asyncio.to_thread(office.sessions.start, session.reviewer.id,
                                    "signed_in", address, request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse(LANDING, status_code=303)
    _set_session_cookie(response, token)
    return response

@router.post("/sign-out")
async def sign_out(request: Request, session: LiveSession) -> Response:
    office = services(request)

    def end() -> None:
        with office.sessions.db.transaction():
            office.sessions.end(request.cookies.get(SESSION_COOKIE, ""))
            office.audit.record("signout", actor=session.reviewer,
                                address=client_address(request), object_type="account",
                                object_id=session.reviewer.id)

    await asyncio.to_thread(end)
    response = RedirectResponse(f"{SIGN_IN}?signed_out=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True,
                           samesite="strict")
    return response
