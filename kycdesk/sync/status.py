"""What a sync run reports, for the views: plain data, nothing of the network stack (the
window shows the sync panel before httpx and the engine are imported)."""

from __future__ import annotations

from dataclasses import dataclass, field


class SyncState:
    IDLE = "idle"
    SYNCING = "syncing"
    OFFLINE = "offline"
    AUTH_NEEDED = "auth-needed"
    REVOKED = "revoked"      # the office revoked this tablet (proven): sync stopped for good
    NOT_CONFIGURED = "not-configured"


@dataclass
class PullOutcome:
    """What a run's pull did (sync.pull)."""

    pages: int = 0
    applied: int = 0          # changes the store applied (a page seen again adds none)
    resynced: bool = False
    photos: int = 0           # photos fetched and recorded
    photo_bytes: int = 0      # bytes that came over the wire for them
    handover_requests: int = 0
    released: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # what did not work (it is retried)
    # The newest lease a page carried, as sent: (expires_at, proof) — checked by whoever
    # records it (the verifiers' registry), not here.
    lease: tuple[str, str] | None = None
    # Other devices (verifiers) of this tablet whose wrong-PIN lockout the office released.
    released_devices: list[str] = field(default_factory=list)


@dataclass
class RunResult:
    synced: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)        # case id -> message
    permanent: set[str] = field(default_factory=set)
    auth_error: str | None = None
    revoked: bool = False  # the office revoked this device, proven (auth_error says so too)
    revoked_tablet: bool = False  # … and with it every verifier's store on the tablet
    cancelled: bool = False
    deadline_passed: bool = False  # the run's deadline cut it (the cases stay due)
    uploaded_images: int = 0
    uploaded_bytes: int = 0   # photo bytes now held by the server (this run)
    sent_bytes: int = 0       # bytes put on the wire for photos, re-sent ones included
    # case id -> why it waits for the office (another tablet's case: a handover is asked)
    waiting: dict[str, str] = field(default_factory=dict)
    pull: PullOutcome | None = None  # what the run's pull brought (None: no pull made)

    @property
    def ok(self) -> bool:
        return not self.failed and self.auth_error is None and not self.cancelled
