"""The settings of one server app (the command line's options, or a test's)."""

from __future__ import annotations

from dataclasses import dataclass, field

from kycdesk_server.faults import FaultState
from kycdesk_server.metrics import ServerMetrics


@dataclass
class ServerConfig:
    tokens: set[str]                          # lab tokens (tests, demos): a device each
    max_image_bytes: int = 40 * 1024 * 1024
    control: bool = False
    faults: FaultState = field(default_factory=FaultState)
    upload_expiry_s: float = 30 * 24 * 3600  # partial uploads: devices are offline for weeks
    metrics: ServerMetrics = field(default_factory=ServerMetrics)
    metrics_allow: list[str] = field(default_factory=list)  # networks besides loopback
    lease_days: int = 14                     # a tablet's offline lease, renewed by each pull
    idle_timeout_s: float = 60.0             # a request body that sends nothing for this long
