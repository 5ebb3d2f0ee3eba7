"""Python's cyclic garbage collector runs in whichever thread happens to allocate when a
threshold is crossed — the persistence writer, the sync worker, a thumbnail job. If the
cycle it frees holds a widget or another GUI-thread QObject, that object is destroyed in
the wrong thread and the process crashes (seen as a segfault "Garbage-collecting" in the
writer thread). So the app turns automatic collection off and collects in the GUI thread
only, on a timer; reference counting still frees everything that is not in a cycle at
once, so memory stays flat.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

COLLECT_EVERY_MS = 2000


class GuiThreadCollector(QObject):
    """Create in the GUI thread; collects there every `interval_ms`."""

    def __init__(self, interval_ms: int = COLLECT_EVERY_MS) -> None:
        super().__init__()
        gc.disable()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.collect)
        self._timer.start()

    def collect(self) -> int:
        # Young generations often, the whole heap now and then: a pause of a few ms.
        return gc.collect(0) + (gc.collect() if gc.get_count()[1] > 8 else 0)

    def stop(self) -> None:
        self._timer.stop()
        gc.enable()
