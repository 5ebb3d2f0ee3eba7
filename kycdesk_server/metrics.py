"""Prometheus metrics of the reference server: requests (by route and status), latency,
bytes in and out, upload outcomes. Routes are labelled by their template (ids replaced),
so the label set stays small; no applicant data is ever a label.

`/metrics` answers loopback clients (a Prometheus agent beside the server), or the
networks given with `--metrics-allow`.
"""

from __future__ import annotations

import ipaddress
import re

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_UPLOAD = re.compile(r"(/v1/uploads/)[^/]+")


def route_of(path: str) -> str:
    if path.startswith("/v1/"):
        path = _UPLOAD.sub(r"\1{id}", _UUID.sub("{id}", path))
        return path if len(path) <= 80 else path[:80]
    return path if path in ("/metrics", "/ready", "/docs", "/openapi.json") else "other"


class ServerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("kycdesk_requests", "Requests answered",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("kycdesk_request_seconds", "Time to answer",
                                 ["route"], registry=self.registry,
                                 buckets=(0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 60))
        self.bytes_in = Counter("kycdesk_bytes_received", "Request body bytes",
                                ["route"], registry=self.registry)
        self.bytes_out = Counter("kycdesk_bytes_sent", "Response body bytes",
                                 ["route"], registry=self.registry)
        self.uploads = Counter("kycdesk_upload_outcomes", "How upload requests ended",
                               ["outcome"], registry=self.registry)

    def observe(self, method: str, path: str, *, status: int | None, bytes_in: int,
                bytes_out: int, seconds: float) -> None:
        route = route_of(path)
        self.requests.labels(method, route, str(status or 0)).inc()
        self.latency.labels(route).observe(seconds)
        self.bytes_in.labels(route).inc(bytes_in)
        self.bytes_out.labels(route).inc(bytes_out)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def allowed(client_host: str, networks: list[str]) -> bool:
    try:
        address = ipaddress.ip_address(client_host)
    except ValueError:
        return False
    return address.is_loopback or any(address in ipaddress.ip_network(n, strict=False)
                                      for n in networks)
