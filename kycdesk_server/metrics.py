"""Prometheus metrics of the reference server: requests (by route and status), latency,
bytes in and out, upload outcomes. Routes are labelled by the template of the route that
answered (never the path: ids and anonymous junk would grow the label set without
bound); every unknown path shares the label "other". No applicant data is ever a label.

`/metrics` answers loopback clients (a Prometheus agent beside the server), or the
networks given with `--metrics-allow`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER = "other"


def route_label(scope: Mapping[str, Any]) -> str:
    """The template of the route that answered (`/v1/uploads/{upload_id}`), set by the
    app's router on the request's scope; every path no route matched shares one label."""
    route = scope.get("route")
    template = getattr(route, "path", None)
    return template if isinstance(template, str) else OTHER


def method_label(method: str) -> str:
    return method if method in KNOWN_METHODS else OTHER


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

    def observe(self, method: str, route: str, *, status: int | None, bytes_in: int,
                bytes_out: int, seconds: float) -> None:
        """One answered request; `route` is a `route_label` (a bounded set)."""
        self.requests.labels(method_label(method), route, str(status or 0)).inc()
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
