"""Routes for operators and tests, without a device credential: readiness, metrics, and
(with --control, loopback only) fault injection and the store's state."""

from __future__ import annotations

import asyncio
import ipaddress
import os
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from kycdesk_server.config import ServerConfig
from kycdesk_server.errors import RequestRefusedError
from kycdesk_server.faults import FaultRule
from kycdesk_server.metrics import allowed as allowed_metrics
from kycdesk_server.openapi_docs import errors
from kycdesk_server.problems import problem
from kycdesk_server.routes.auth import AppServices
from kycdesk_server.storage import ServerStore

router = APIRouter()


def server_config(request: Request) -> ServerConfig:
    config: ServerConfig = request.app.state.config
    return config


def server_store(request: Request) -> ServerStore:
    store: ServerStore = request.app.state.store
    return store


Config = Annotated[ServerConfig, Depends(server_config)]
Store = Annotated[ServerStore, Depends(server_store)]


@router.get("/ready", summary="Readiness: the store answers and the data folder is "
                              "writable (no credential; for load balancers)",
            responses={503: errors(503)[503]})
async def ready(store: Store) -> Response:
    problem_text = await asyncio.to_thread(store.readiness_problem)
    if problem_text is None:
        return JSONResponse({"status": "ready"})
    return problem(503, "Not ready", problem_text, headers={"Retry-After": "10"})


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, config: Config) -> Response:
    host = request.client.host if request.client else ""
    if not allowed_metrics(host, config.metrics_allow):
        raise RequestRefusedError(403, "Forbidden",
                                  "Metrics answer loopback and --metrics-allow.")
    return Response(config.metrics.exposition(),
                    media_type="text/plain; version=0.0.4; charset=utf-8")


def loopback_only(request: Request) -> None:
    host = request.client.host if request.client else ""
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise RequestRefusedError(403, "Forbidden", "The control endpoint answers loopback only.")


control_router = APIRouter(prefix="/_control", include_in_schema=False,
                           dependencies=[Depends(loopback_only)])


@control_router.post("/faults")
async def set_faults(request: Request, config: Config) -> dict[str, int]:
    payload = await request.json()
    rules = [FaultRule(**rule) for rule in payload.get("rules", [])]
    config.faults.replace(rules, latency_ms=int(payload.get("latency_ms", 0)),
                          seed=int(payload.get("seed", 0)))
    return {"rules": len(rules)}


@control_router.get("/state")
async def state(store: Store, config: Config, services: AppServices) -> dict[str, Any]:
    uploads = services.uploads
    return {**await asyncio.to_thread(store.state), "injected": dict(config.faults.injected),
            "uploads": await asyncio.to_thread(uploads.uploads.count),
            "locks": len(uploads.image_locks), "upload_guards": len(uploads.guards),
            "receiving": dict(uploads.receiving), "worker": os.getpid()}
