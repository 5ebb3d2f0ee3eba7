"""Progress a person can read: photos done, bytes, current rate, time left; "waiting for
the network" when nothing moves either way, and "the server is answering very slowly"
when nothing is being sent but the server's answer keeps arriving, a trickle — at most a
few updates a second to the listener (each one costs the GUI a relayout; bytes move in
64 KiB pieces)."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

RATE_WINDOW_S = 10.0
MIN_INTERVAL_S = 0.1     # at most ~10 updates a second reach the listener
STALL_AFTER_S = 15.0     # no byte taken by the socket this long: "waiting for the network"
# (not less: a 2G link needs ~10 s to drain what three uploads put in their socket buffers)
# — unless bytes of an answer arrived within it: then "the server is answering very slowly".


class LinkActivity(Protocol):
    """When the client's sockets last moved bytes each way (transport.LinkWatch)."""

    @property
    def last_sent(self) -> float: ...
    @property
    def last_received(self) -> float: ...


@dataclass(frozen=True)
class CaseProgress:
    case_id: str
    reference: str | None
    items_done: int          # photos held by the server (+1 when the form is accepted)
    items_total: int         # photos + the form
    bytes_done: int          # bytes the server holds or that are on their way
    bytes_total: int
    step: str
    case_index: int = 1      # this case's place in the run (1-based) ...
    case_count: int = 1      # ... and how many cases the run has
    rate_bps: float | None = None  # bytes per second over the last ten seconds
    eta_s: float | None = None     # time left at that rate
    stalled_s: float = 0.0         # seconds since the last byte moved either way (0: moving)
    slow_answer_s: float = 0.0     # seconds nothing was sent while an answer kept arriving


def waiting(p: CaseProgress) -> bool:
    """Nothing useful is moving: the link is silent or the server barely answers."""
    return p.stalled_s >= STALL_AFTER_S or p.slow_answer_s >= STALL_AFTER_S


def format_bytes(count: float) -> str:
    """Decimal units, as a person (and a phone plan) counts them."""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{int(count)} B"


def format_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def describe(p: CaseProgress) -> str:
    """One line for the status bar and the command line."""
    name = p.reference or p.case_id[:8]
    head = f"{name}" + (f" ({p.case_index} of {p.case_count})" if p.case_count > 1 else "")
    photos = max(0, p.items_total - 1)
    parts = [head, p.step] if p.case_id else [p.step]  # no case: the pull's own steps
    if photos:
        parts.append(f"{min(p.items_done, photos)} of {photos} photos")
    if p.bytes_total:
        parts.append(f"{format_bytes(p.bytes_done)} of {format_bytes(p.bytes_total)}")
    if p.stalled_s >= STALL_AFTER_S:
        parts.append(f"waiting for the network (no data for {int(p.stalled_s)} s)")
    elif p.slow_answer_s >= STALL_AFTER_S:
        parts.append(f"the server is answering very slowly ({int(p.slow_answer_s)} s so "
                     "far)")
    elif p.bytes_total and p.bytes_done >= p.bytes_total and p.items_done < photos:
        parts.append("waiting for the server to confirm")
    elif p.rate_bps:
        parts.append(f"{format_bytes(p.rate_bps)}/s")
        if p.eta_s is not None and p.eta_s >= 1:
            parts.append(f"about {format_duration(p.eta_s)} left")
    return " · ".join(parts)


class TransferMeter:
    """Thread-safe counters for one case; parallel uploads report into it. `emit()` is
    throttled; `tick()` (from a timer) keeps a stalled display counting up."""

    def __init__(self, base: CaseProgress, listener: Callable[[CaseProgress], None] | None,
                 clock: Callable[[], float] = time.monotonic,
                 link: LinkActivity | None = None) -> None:
        self._lock = threading.Lock()
        self._link = link  # bytes moving on the sockets (answers included), same clock
        self._base = base
        self._listener = listener
        self._clock = clock
        self._items_done = base.items_done
        self._step = base.step
        self._confirmed = base.bytes_done    # bytes the server holds
        self._in_flight: dict[int, int] = {}  # photo -> bytes of its current request sent
        self._samples: deque[tuple[float, int]] = deque()
        now = clock()
        self._last_move = now
        self._last_emit = 0.0
        self._samples.append((now, self.bytes_done))

    @property
    def bytes_done(self) -> int:
        return min(self._base.bytes_total, self._confirmed + sum(self._in_flight.values()))

    def set_step(self, step: str) -> None:
        with self._lock:
            self._step = step
        self.emit(force=True)

    def sending(self, photo: int, sent: int) -> None:
        with self._lock:
            if sent > self._in_flight.get(photo, 0):
                self._last_move = self._clock()
            self._in_flight[photo] = sent
        self.emit()

    def confirmed(self, photo: int, added: int) -> None:
        """The server confirmed `added` more bytes of this photo (its request is over)."""
        with self._lock:
            self._in_flight.pop(photo, None)
            self._confirmed += added
        self.emit()

    def dropped(self, photo: int) -> None:
        """The request was cut: what it sent is not counted until the server says so."""
        with self._lock:
            self._in_flight.pop(photo, None)
        self.emit()

    def item_done(self) -> None:
        with self._lock:
            self._items_done += 1
        self.emit(force=True)

    def snapshot(self) -> CaseProgress:
        with self._lock:
            now = self._clock()
            done = self.bytes_done
            self._samples.append((now, done))
            while len(self._samples) > 2 and now - self._samples[0][0] > RATE_WINDOW_S:
                self._samples.popleft()
            first_t, first_b = self._samples[0]
            span = now - first_t
            rate = (done - first_b) / span if span >= 1.0 and done > first_b else None
            left = self._base.bytes_total - done
            eta = left / rate if rate else None
            stalled = slow = 0.0
            if self._in_flight:  # a photo request is under way
                quiet_out = now - self._last_move
                quiet_in = quiet_out
                if self._link is not None:
                    quiet_out = min(quiet_out, now - self._link.last_sent)
                    quiet_in = now - self._link.last_received
                if quiet_in < STALL_AFTER_S <= quiet_out:
                    slow = quiet_out  # nothing sent for long, but an answer is arriving
                else:
                    stalled = min(quiet_out, quiet_in)
            return CaseProgress(
                case_id=self._base.case_id, reference=self._base.reference,
                items_done=self._items_done, items_total=self._base.items_total,
                bytes_done=done, bytes_total=self._base.bytes_total, step=self._step,
                case_index=self._base.case_index, case_count=self._base.case_count,
                rate_bps=rate, eta_s=eta, stalled_s=stalled, slow_answer_s=slow)

    def emit(self, *, force: bool = False) -> None:
        if self._listener is None:
            return
        now = self._clock()
        with self._lock:
            if not force and now - self._last_emit < MIN_INTERVAL_S:
                return
            self._last_emit = now
        self._listener(self.snapshot())

    def tick(self) -> None:
        self.emit(force=True)
