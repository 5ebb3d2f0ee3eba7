"""The reference server's HTTP app (FastAPI): the services built over one store, the
routers, and the error answers (kycdesk_server.problems). Behaviour lives in
kycdesk_server.services; the routes (kycdesk_server.routes) only translate."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from kycdesk.core.protocol import API_VERSION, TUS_VERSION, UPLOADS_PATH, Problem
from kycdesk_server import problems
from kycdesk_server.backoffice import register_backoffice
from kycdesk_server.backoffice.assignments import AssignmentService
from kycdesk_server.backoffice.audit import AuditLog
from kycdesk_server.backoffice.handovers import HandoverService
from kycdesk_server.config import ServerConfig
from kycdesk_server.devices import DeviceRegistry
from kycdesk_server.errors import RequestRefusedError
from kycdesk_server.locks import KeyedLocks
from kycdesk_server.problems import PROBLEM, problem
from kycdesk_server.routes import operations, pull, sync, tus
from kycdesk_server.services import Services
from kycdesk_server.services.devices import DeviceService
from kycdesk_server.services.pull import PullService
from kycdesk_server.services.submissions import SubmissionService
from kycdesk_server.services.uploads import TusConfig, UploadService, expire_periodically
from kycdesk_server.services.validation import FormValidation
from kycdesk_server.storage import ServerStore
from kycdesk_server.uploads import UploadStore

__all__ = ["PROBLEM", "ServerConfig", "build_services", "create_app", "problem"]


def build_services(store: ServerStore, config: ServerConfig) -> Services:
    """The services of one app over its store (lab tokens registered as devices)."""
    registry = DeviceRegistry(store.db)
    for token in sorted(config.tokens):
        registry.register_lab_token(token)
    devices = DeviceService(registry, lease_days=config.lease_days)
    audit = AuditLog(store.db)
    locks = KeyedLocks()  # per photo id and per case's submission, in this process
    uploads = UploadStore(store.root, store.db, parts=store.partial_bytes,
                          expire_after=timedelta(seconds=config.upload_expiry_s))
    return Services(
        devices=devices,
        submissions=SubmissionService(
            store, devices=devices, case_locks=locks,
            validation=FormValidation(store.forms)),
        uploads=UploadService(store, uploads, TusConfig(
            config.max_image_bytes, config.idle_timeout_s,
            on_outcome=lambda outcome: config.metrics.uploads.labels(outcome).inc()),
            devices=devices, image_locks=locks),
        pull=PullService(store.db, store.blobs),
        handovers=HandoverService(store.db, audit, AssignmentService(store.db, audit,
                                                                     store.forms)))


def create_app(store: ServerStore, config: ServerConfig) -> FastAPI:
    services = build_services(store, config)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        housekeeping = asyncio.create_task(
            expire_periodically(services.uploads.uploads, every_s=3600))
        try:
            yield
        finally:
            housekeeping.cancel()

    app = FastAPI(title="kycdesk reference sync server", version=API_VERSION,
                  lifespan=lifespan)
    app.state.store, app.state.config, app.state.services = store, config, services
    _answer_errors(app)
    app.include_router(operations.router)
    app.include_router(sync.router)
    app.include_router(pull.router)
    app.include_router(tus.options_router)
    app.include_router(tus.router)
    if config.control:
        app.include_router(operations.control_router)
    # Other parts of the server register here, each with one call over the same store
    # and config.
    register_backoffice(app, store, config)
    app.openapi = lambda: _openapi_with_problems(app)  # type: ignore[method-assign]
    return app


def _answer_errors(app: FastAPI) -> None:
    """Every known refusal and error as a problem body, in one place."""
    problems.install(app)

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestRefusedError)
        headers = dict(exc.headers)
        if request.url.path.startswith(UPLOADS_PATH):
            headers["Tus-Resumable"] = TUS_VERSION
        if request.method == "HEAD":  # no body: only the status and headers
            return Response(status_code=exc.status, headers=headers)
        return problem(exc.status, exc.title, exc.detail, headers=headers, **exc.extra)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        """Starlette's own answers (404, 405) as problem bodies; a 405 names every method
        the path has (Starlette names only those of the first route that matched)."""
        assert isinstance(exc, StarletteHTTPException)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            methods: set[str] = set()
            for route in app.routes:
                if isinstance(route, APIRoute) and route.path_regex.match(request.url.path):
                    methods |= set(route.methods or ())
            headers["Allow"] = ", ".join(sorted(methods))
        return problem(exc.status_code, str(exc.detail), headers=headers)

    async def invalid(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        details = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                            for e in exc.errors()[:5])
        return problem(422, "Invalid request", details)

    app.add_exception_handler(RequestRefusedError, refused)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)


def _openapi_with_problems(app: FastAPI) -> dict[str, Any]:
    """The generated document plus the problem body every error route refers to."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, routes=app.routes,
                             description="The kycdesk sync contract: docs/sync-protocol.md")
        schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = \
            Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        app.openapi_schema = schema
    return app.openapi_schema
