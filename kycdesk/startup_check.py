"""`kycdesk --startup-check`: start, show the first screen, wait until startup has
finished, report how long it took and the GUI thread's longest stall, quit.

CI and the bundle build (tools/build_bundle.py greps the "sign-in shown" and "window
shown" lines) run it; benchmarks/first_second.py runs it with a watch time
(`--startup-check=5`) to measure the first seconds a verifier works in.

Signed in (`--user NAME --pin-stdin`), the clock points are: the PIN handed over, the
keys back (argon2id: the machine's cost, reported apart), the verifier's cases painted
in the list ("rows painted"), and the desk's deferred startup finished (form
definitions, sync stack, network watch, the sync's credential: `KycDeskApp
.startupFinished`). From the rows painted on, a probe timer measures how late the event
loop gets to it: the longest gap is the longest time a tap or a keystroke would have
waited. (The rows' first paint itself is part of "start -> rows painted".)
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtWidgets import QApplication

from kycdesk.views.first_paint import FirstPaint

if TYPE_CHECKING:
    from kycdesk.gate import Gate

PROBE_MS = 2  # how often the probe asks the event loop for a turn
POLL_MS = 5
PAINT_DEADLINE_MS = 60_000  # a list never painted: reported as painted this late


def process_age_s() -> float | None:
    """Seconds since this process started (Linux; None elsewhere): what a person waited
    for the window, interpreter start included."""
    try:
        fields = Path("/proc/self/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
        uptime = float(Path("/proc/uptime").read_text(encoding="ascii").split()[0])
        return uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def peak_rss_mb() -> float | None:
    """The process's peak resident memory (None where the OS does not say: Windows)."""
    try:
        import resource
    except ImportError:
        return None
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return kib / 1024


def _age_text() -> str:
    age = process_age_s()
    return "" if age is None else f" after {age:.2f} s"


class StallProbe(QObject):
    """A timer that should fire every `PROBE_MS`; the longest lateness is the GUI
    thread's longest stall while it ran (anything on the GUI thread: our code, imports,
    layout, painting)."""

    def __init__(self) -> None:
        super().__init__()
        self.longest_s = 0.0
        self.longest_at_s = 0.0  # when it ended, seconds after the probe started
        self.stalls_over_50ms = 0
        self._started = self._last = 0.0
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(PROBE_MS)
        self._timer.timeout.connect(self._tick)

    def start(self) -> None:
        self._started = self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        self._tick()

    def elapsed_s(self) -> float:
        return time.perf_counter() - self._started

    def _tick(self) -> None:
        now = time.perf_counter()
        late = now - self._last - PROBE_MS / 1000
        self._last = now
        if late > 0.050:
            self.stalls_over_50ms += 1
        if late > self.longest_s:
            self.longest_s, self.longest_at_s = late, now - self._started


class StartupWatch(QObject):
    """Quits once the sign-in screen lists the verifiers (`signing_in` False), or once
    the verifier's rows are painted and the desk's startup has finished, and `watch_s`
    seconds have passed since the rows were painted (the stall probe runs all along)."""

    def __init__(self, gate: Gate, *, signing_in: bool, watch_s: float = 0.0) -> None:
        super().__init__()
        self.gate = gate
        self.signing_in = signing_in
        self.watch_s = watch_s
        self.marks: dict[str, float] = {}
        self.probe = StallProbe()
        self._paint: FirstPaint | None = None
        gate.model.signedIn.connect(self._signed_in)
        QTimer.singleShot(0, self._poll)

    def pin_submitted(self) -> None:
        self.marks["pin"] = time.perf_counter()

    def _signed_in(self, _session: object) -> None:
        self.marks.setdefault("keys", time.perf_counter())

    def _painted(self, cases: int) -> None:
        # From here on the verifier sees their cases and may tap: the probe starts.
        self.marks["painted"] = time.perf_counter()
        self.probe.start()
        print(f"startup-check: window shown, store open, {cases} case(s) listed"
              f"{_age_text()}", flush=True)

    def _poll(self) -> None:
        from kycdesk.models.signin import Door

        gate, marks = self.gate, self.marks
        desk = gate.desk
        if not self.signing_in:
            if gate.model.door in (Door.CHOOSE, Door.FIRST_USE) and gate.screen.isVisible():
                print(f"startup-check: sign-in shown, {len(gate.model.verifiers)} "
                      f"verifier(s){_age_text()}", flush=True)
                QApplication.quit()
                return
        elif desk is not None and desk.reader is not None and desk.window.isVisible():
            if "listed" not in marks:
                marks["listed"] = time.perf_counter()
                # The rows, or on a first run the "nothing yet" text in their place.
                page = desk.window.list_page
                self._paint = FirstPaint((page.table.viewport(), page.empty_state),
                                         lambda: self._painted(desk.model.total()),
                                         deadline_ms=PAINT_DEADLINE_MS, parent=self)
            if "painted" in marks and desk.startup_finished_at is not None \
                    and time.perf_counter() - marks["painted"] >= self.watch_s:
                self.probe.stop()
                _report(marks, self.probe, desk.startup_finished_at)
                if desk.sync is None:
                    print("startup-check: FAILED: the sync did not start (see the log)",
                          flush=True)
                    QApplication.exit(1)
                    return
                QApplication.quit()
                return
        QTimer.singleShot(POLL_MS, self._poll)


def _report(marks: dict[str, float], probe: StallProbe, finished_at: float) -> None:
    """Times relative to the rows painted (+0.00 s); the store was open `listed` before."""
    if "pin" in marks and "keys" in marks:
        print(f"startup-check: PIN to keys (argon2id and the registry) "
              f"{marks['keys'] - marks['pin']:.2f} s", flush=True)
    painted = marks["painted"]
    print(f"startup-check: rows painted at +0.00 s ({marks['painted'] - marks['listed']:.2f} s "
          f"after the store was open), startup finished at "
          f"+{max(0.0, finished_at - painted):.2f} s; longest GUI stall "
          f"{probe.longest_s * 1000:.0f} ms at +{probe.longest_at_s:.2f} s "
          f"({probe.stalls_over_50ms} over 50 ms in {probe.elapsed_s():.2f} s watched)",
          flush=True)
    rss = peak_rss_mb()
    if rss is not None:
        print(f"startup-check: peak memory (RSS) {rss:.0f} MB", flush=True)
