"""The back office's web shell, shared by every back-office route:

- `current_reviewer` — THE dependency a route receives (`reviewer: SignedInReviewer`, the
  Annotated form of `Reviewer = Depends(current_reviewer)`); it resumes the session
  from its cookie and, for every state-changing method, checks CSRF (so no route can forget
  to). `require_role("supervisor", "admin")` narrows it. Pages answer a missing session
  with a redirect to sign-in; `/api/office/…` with a 401 problem.
- CSRF: the session's secret in a hidden `csrf_token` field (forms: `{{ csrf_field() }}`)
  or the `X-CSRF-Token` header (fetch), compared with `hmac.compare_digest`; and the
  request's Origin / Sec-Fetch-Site must be this site.
- `render(request, "page.html", **context)` — Jinja2 with autoescaping ON; the page gets
  `reviewer`, `csrf_token` and `csrf_field()` by itself.
- `security_headers` — CSP and friends on every back-office response.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from kycdesk_server.backoffice.identity import Reviewer, Role
from kycdesk_server.backoffice.services import OfficeServices
from kycdesk_server.backoffice.sessions import Session

PAGES = "/office"
API = "/api/office"
STATIC = f"{PAGES}/static"
SIGN_IN = f"{PAGES}/sign-in"
TOTP_ENROL = f"{PAGES}/totp"
LANDING = f"{PAGES}/queue"  # the review queue (replaced by the review pages)
# `__Host-`: the browser keeps it only if Secure, Path=/ and no Domain — it cannot be
# planted by a sibling subdomain. Browsers treat http://127.0.0.1 as secure (tests, demos).
SESSION_COOKIE = "__Host-kycdesk-office"
SIGNIN_COOKIE = "__Host-kycdesk-signin"  # the sign-in form's own CSRF token (no session yet)
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self'",
    "connect-src 'self'", "font-src 'self'", "object-src 'none'", "base-uri 'none'",
    "form-action 'self'", "frame-ancestors 'none'",
])
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


class SignInRequiredError(Exception):
    """No live session (or one still enrolling TOTP) for a route that needs one."""

    def __init__(self, enrolling: bool = False) -> None:
        super().__init__("sign-in required")
        self.enrolling = enrolling


class CsrfRefusedError(Exception):
    """A state-changing request without this session's token, or from another site."""


class RoleRefusedError(Exception):
    """Signed in, but the account's role may not do this."""


def services(request: Request) -> OfficeServices:
    office: OfficeServices = request.app.state.office
    return office


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def is_api(request: Request) -> bool:
    return request.url.path.startswith(API)


# -- sessions ---------------------------------------------------------------------------
async def office_session(request: Request) -> Session:
    """The live session in any stage (the TOTP enrolment page takes this one)."""
    cached: Session | None = getattr(request.state, "office_session", None)
    if cached is not None:
        return cached
    token = request.cookies.get(SESSION_COOKIE, "")
    session = await asyncio.to_thread(services(request).sessions.resume, token) \
        if token else None
    if session is None:
        raise SignInRequiredError()
    request.state.office_session = session
    if request.method in UNSAFE:
        await check_csrf(request, session.csrf_secret)
    return session


LiveSession = Annotated[Session, Depends(office_session)]


async def current_reviewer(session: LiveSession) -> Reviewer:
    """The signed-in reviewer (CSRF already checked for POST/PUT/PATCH/DELETE)."""
    if session.stage != "signed_in":
        raise SignInRequiredError(enrolling=True)
    return session.reviewer


SignedInReviewer = Annotated[Reviewer, Depends(current_reviewer)]


def require_role(*roles: Role) -> Callable[..., Awaitable[Reviewer]]:
    """`Depends(require_role("supervisor", "admin"))`: the reviewer, if the role fits."""
    async def reviewer_in_role(reviewer: SignedInReviewer) -> Reviewer:
        if reviewer.role not in roles:
            raise RoleRefusedError()
        return reviewer
    return reviewer_in_role


# The office's acts on tablets, assignments and forms: a supervisor's or an admin's.
Supervisor = Annotated[Reviewer, Depends(require_role("supervisor", "admin"))]


# -- CSRF -------------------------------------------------------------------------------
def same_site_request(request: Request) -> bool:
    """The browser says the request comes from this site (or says nothing: not a browser,
    and then it carries no ambient cookie either)."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin == "null":
        # Referrer-Policy: no-referrer makes Chromium send `Origin: null` on form posts;
        # then the browser's own Sec-Fetch-Site must vouch for the request.
        return fetch_site == "same-origin"
    if origin is not None:
        # The host part only: behind a TLS-terminating proxy the scheme differs.
        return urlsplit(origin).netloc.lower() == request.headers.get("host", "").lower()
    return True


async def check_csrf(request: Request, expected: str) -> None:
    if not same_site_request(request):
        raise CsrfRefusedError()
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        field = (await request.form()).get(CSRF_FIELD, "")
        sent = field if isinstance(field, str) else ""
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CsrfRefusedError()


# -- pages ------------------------------------------------------------------------------
@pass_context
def _csrf_field(context: Context) -> Markup:
    return Markup('<input type="hidden" name="{}" value="{}">').format(
        CSRF_FIELD, context.get("csrf_token", ""))


TEMPLATES = Environment(loader=PackageLoader("kycdesk_server.backoffice", "templates"),
                        autoescape=True, trim_blocks=True, lstrip_blocks=True)
TEMPLATES.globals["csrf_field"] = _csrf_field
TEMPLATES.globals["static"] = STATIC


def render(request: Request, template: str, *, status_code: int = 200,
           **context: Any) -> HTMLResponse:
    """A back-office page; `reviewer` and `csrf_token` come from the request's session."""
    session: Session | None = getattr(request.state, "office_session", None)
    context.setdefault("reviewer", session.reviewer if session and
                       session.stage == "signed_in" else None)
    context.setdefault("csrf_token", session.csrf_secret if session else "")
    context.setdefault("signed_in", session is not None)  # any stage may sign out
    return HTMLResponse(TEMPLATES.get_template(template).render(**context),
                        status_code=status_code)


def problem(status: int, title: str, detail: str = "") -> JSONResponse:
    return JSONResponse({"type": "about:blank", "title": title, "status": status,
                         "detail": detail}, status_code=status,
                        media_type="application/problem+json")


# -- errors and headers -----------------------------------------------------------------
async def sign_in_required(request: Request, exc: Exception) -> Response:
    if is_api(request):
        return problem(401, "Sign-in required", "Sign in to the back office first.")
    enrolling = isinstance(exc, SignInRequiredError) and exc.enrolling
    return RedirectResponse(TOTP_ENROL if enrolling else SIGN_IN, status_code=303)


async def csrf_refused(request: Request, _exc: Exception) -> Response:
    detail = ("This request did not carry the page's security token, or came from another "
              "site. Reload the page and try again.")
    if is_api(request):
        return problem(403, "Request refused", detail)
    return render(request, "error.html", status_code=403, title="Request refused",
                  message=detail)


async def role_refused(request: Request, _exc: Exception) -> Response:
    detail = "Your role may not do this; ask a supervisor or an administrator."
    if is_api(request):
        return problem(403, "Not allowed", detail)
    return render(request, "error.html", status_code=403, title="Not allowed",
                  message=detail)


def is_office_path(path: str) -> bool:
    return path in (PAGES, API) or path.startswith((f"{PAGES}/", f"{API}/"))


async def security_headers(request: Request,
                           call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    response = await call_next(request)
    if is_office_path(request.url.path):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.url.scheme == "https":  # (behind a proxy: its X-Forwarded-Proto)
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if not request.url.path.startswith(f"{STATIC}/"):
            response.headers["Cache-Control"] = "no-store"  # pages and API: never cached
    return response
