"""The reference server's HTTP API (FastAPI), built from kycdesk.core.protocol."""

from __future__ import annotations

import asyncio
import ipaddress
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from kycdesk.core.protocol import (
    API_VERSION,
    ENROL_PATH,
    EnrolledDevice,
    Enrolment,
    Health,
    HeldImage,
    Problem,
    Receipt,
    Submission,
)
from kycdesk_server.backoffice import register_backoffice
from kycdesk_server.devices import DeviceRegistry, EnrolmentRefusedError
from kycdesk_server.faults import FaultRule, FaultState
from kycdesk_server.locks import KeyedLocks
from kycdesk_server.metrics import ServerMetrics
from kycdesk_server.metrics import allowed as allowed_metrics
from kycdesk_server.openapi_docs import NEEDS_CREDENTIAL, CaseIdPath, errors
from kycdesk_server.storage import ServerStore, StoredSubmission
from kycdesk_server.submissions import Refused
from kycdesk_server.submissions import accept as accept_submission
from kycdesk_server.tus import TusConfig, expire_periodically, register_tus
from kycdesk_server.uploads import UploadStore

PROBLEM = "application/problem+json"


@dataclass
class ServerConfig:
    tokens: set[str]                          # lab tokens (tests, demos): a device each
    max_image_bytes: int = 40 * 1024 * 1024
    control: bool = False
    faults: FaultState = field(default_factory=FaultState)
    upload_expiry_s: float = 30 * 24 * 3600  # partial uploads: devices are offline for weeks
    metrics: ServerMetrics = field(default_factory=ServerMetrics)
    metrics_allow: list[str] = field(default_factory=list)  # networks besides loopback
    idle_timeout_s: float = 60.0             # a request body that sends nothing for this long


def problem(status: int, title: str, detail: str = "", *,
            headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse({"type": "about:blank", "title": title, "status": status,
                         "detail": detail, **extra}, status_code=status, media_type=PROBLEM,
                        headers=headers)


def _receipt(stored: StoredSubmission) -> dict[str, Any]:
    return Receipt(receipt_id=stored.receipt_id,
                   accepted_at=datetime.fromisoformat(stored.accepted_at.replace("Z",
                                                                                  "+00:00")),
                   revision=stored.revision,
                   server_image_ids=stored.server_image_ids).model_dump(mode="json")


class CaseAuthority:
    """The device a request comes from (set by the authentication middleware) and which
    cases it may touch (see devices.py)."""

    def __init__(self, registry: DeviceRegistry) -> None:
        self.registry = registry

    @staticmethod
    def device(request: Request) -> str:
        return str(request.state.device_id)

    async def claim(self, request: Request, case_id: str) -> JSONResponse | None:
        device = self.device(request)
        if await asyncio.to_thread(self.registry.claim, case_id, device) != device:
            return _not_yours()
        return None

    async def check(self, request: Request, case_id: str) -> JSONResponse | None:
        owner = await asyncio.to_thread(self.registry.owner, case_id)
        if owner is not None and owner != self.device(request):
            return _not_yours()
        return None


def _not_yours() -> JSONResponse:
    return problem(403, "Another device's case",
                   "This case belongs to another device; this device may neither read nor "
                   "change it.")


def create_app(store: ServerStore, config: ServerConfig) -> FastAPI:
    uploads = UploadStore(store.root, store.db,
                          parts=store.partial_bytes,
                          expire_after=timedelta(seconds=config.upload_expiry_s))
    registry = DeviceRegistry(store.db)
    for token in sorted(config.tokens):
        registry.register_lab_token(token)
    authority = CaseAuthority(registry)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        housekeeping = asyncio.create_task(expire_periodically(uploads, every_s=3600))
        try:
            yield
        finally:
            housekeeping.cancel()

    app = FastAPI(title="kycdesk reference sync server", version=API_VERSION,
                  lifespan=lifespan)
    app.state.uploads = uploads
    locks = KeyedLocks()

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        """Starlette's own answers (404, 405) as problem bodies; a 405 names every method
        the path has (Starlette names only those of the first route that matched)."""
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            methods: set[str] = set()
            for route in app.routes:
                if isinstance(route, APIRoute) and route.path_regex.match(request.url.path):
                    methods |= set(route.methods or ())
            headers["Allow"] = ", ".join(sorted(methods))
        return problem(exc.status_code, str(exc.detail), headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                           for e in exc.errors()[:5])
        return problem(422, "Invalid request", errors)

    @app.middleware("http")
    async def authenticate(request: Request, call_next: Any) -> Response:
        if request.url.path.startswith("/v1/") and request.url.path != ENROL_PATH:
            header = request.headers.get("authorization", "")
            token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") \
                else ""
            if not token:
                return problem(401, "Authentication required", "No device token was sent.")
            device = await asyncio.to_thread(registry.device_for, token)
            if device is None:
                return problem(401, "Invalid device token", "The device token is wrong.")
            if device.revoked_at is not None:
                return problem(401, "Device revoked",
                               "This device's access was revoked; ask your administrator "
                               "for a new enrolment code.")
            request.state.device_id = device.id
        response: Response = await call_next(request)
        return response

    @app.post(ENROL_PATH, status_code=201, response_model=EnrolledDevice,
              summary="Trade a one-time enrolment code for this device's credential",
              responses=errors(403))
    async def enrol(enrolment: Enrolment) -> Any:
        try:
            device, credential = await asyncio.to_thread(
                registry.enrol, enrolment.code, enrolment.device_name)
        except EnrolmentRefusedError:
            return problem(403, "Enrolment code not valid",
                           "The code is unknown, was already used, or has expired; ask "
                           "your administrator for a new one.")
        return JSONResponse(EnrolledDevice(device_id=device.id, credential=credential)
                            .model_dump(), status_code=201)

    @app.get("/ready", summary="Readiness: the store answers and the data folder is "
                               "writable (no credential; for load balancers)",
             responses={503: errors(503)[503]})
    async def ready() -> Response:
        problem_text = await asyncio.to_thread(store.readiness_problem)
        if problem_text is None:
            return JSONResponse({"status": "ready"})
        return problem(503, "Not ready", problem_text, headers={"Retry-After": "10"})

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        host = request.client.host if request.client else ""
        if not allowed_metrics(host, config.metrics_allow):
            return problem(403, "Forbidden", "Metrics answer loopback and --metrics-allow.")
        return Response(config.metrics.exposition(),
                        media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.get("/v1/health", response_model=Health, dependencies=NEEDS_CREDENTIAL,
             responses=errors())
    async def health() -> dict[str, Any]:
        return Health(status="ok", server_time=datetime.now(UTC), api_version=API_VERSION,
                      max_image_bytes=config.max_image_bytes).model_dump(mode="json")

    # Case ids are canonical lowercase UUIDs, checked whole by the path pattern (a
    # trailing newline is not an id: it would end up in folder names).
    @app.get("/v1/cases/{case_id}/images", response_model=list[HeldImage],
             dependencies=NEEDS_CREDENTIAL, responses=errors(403))
    async def held_images(request: Request, case_id: str = CaseIdPath) -> Any:
        if (bad := await authority.check(request, case_id)) is not None:
            return bad
        return [HeldImage(client_image_id=i.client_image_id,
                          server_image_id=i.server_image_id, sha256=i.sha256,
                          byte_size=i.byte_size).model_dump()
                for i in await asyncio.to_thread(store.images, case_id)]

    @app.put("/v1/cases/{case_id}/submission", status_code=201, response_model=Receipt,
             dependencies=NEEDS_CREDENTIAL, responses={
                 **errors(403, 409), 200: {"description": "The same revision with the same "
                                                          "body again: the same receipt",
                                           "model": Receipt}})
    async def submit(submission: Submission, request: Request,
                     case_id: str = CaseIdPath) -> Any:
        if (bad := await authority.claim(request, case_id)) is not None:
            return bad
        async with locks.hold(f"submission:{case_id}"):
            outcome = await asyncio.to_thread(accept_submission, store, case_id, submission,
                                              authority.device(request))
        if isinstance(outcome, Refused):
            if outcome.missing:
                return problem(outcome.status, outcome.title, outcome.detail,
                               missing=outcome.missing)
            return problem(outcome.status, outcome.title, outcome.detail)
        return JSONResponse(_receipt(outcome.stored), status_code=201 if outcome.new else 200)

    @app.get("/v1/cases/{case_id}/submission", response_model=Receipt,
             dependencies=NEEDS_CREDENTIAL, responses=errors(403, 404))
    async def get_submission(request: Request, case_id: str = CaseIdPath) -> Any:
        if (bad := await authority.check(request, case_id)) is not None:
            return bad
        existing = await asyncio.to_thread(store.submission, case_id)
        if existing is None:
            return problem(404, "No submission", "The server holds no submission for this "
                                                 "case.")
        return _receipt(existing)

    app.state.upload_guards = register_tus(
        app, store, uploads,
        TusConfig(config.max_image_bytes, config.idle_timeout_s,
                  on_outcome=lambda outcome: config.metrics.uploads.labels(outcome).inc()),
        image_locks=locks, problem=problem, authority=authority)

    if config.control:
        def loopback_only(request: Request) -> JSONResponse | None:
            host = request.client.host if request.client else ""
            try:
                if ipaddress.ip_address(host).is_loopback:
                    return None
            except ValueError:
                pass
            return problem(403, "Forbidden", "The control endpoint answers loopback only.")

        @app.post("/_control/faults", include_in_schema=False)
        async def set_faults(request: Request) -> Any:
            if (denied := loopback_only(request)) is not None:
                return denied
            payload = await request.json()
            rules = [FaultRule(**rule) for rule in payload.get("rules", [])]
            config.faults.replace(rules, latency_ms=int(payload.get("latency_ms", 0)),
                                  seed=int(payload.get("seed", 0)))
            return {"rules": len(rules)}

        @app.get("/_control/state", include_in_schema=False)
        async def state(request: Request) -> Any:
            if (denied := loopback_only(request)) is not None:
                return denied
            return {**store.state(), "injected": dict(config.faults.injected),
                    "uploads": uploads.count(), "locks": len(locks),
                    "upload_guards": len(app.state.upload_guards),
                    "receiving": dict(app.state.receiving), "worker": os.getpid()}

    def openapi_with_problems() -> dict[str, Any]:
        """The generated document plus the problem body every error route refers to."""
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, routes=app.routes,
                                 description="The kycdesk sync contract: docs/sync-protocol.md")
            schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = \
                Problem.model_json_schema(ref_template="#/components/schemas/{model}")
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi_with_problems  # type: ignore[method-assign]
    register_backoffice(app, store, config)
    return app
