"""Free-space checks (QStorageInfo), so a full disk is a warning before it is a failure."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QStorageInfo

# Below this the UI warns; imports need their own size plus IMPORT_RESERVE_BYTES.
LOW_SPACE_BYTES = 500 * 1024 * 1024
IMPORT_RESERVE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class SpaceReport:
    available: int
    total: int
    low: bool
    read_only: bool

    def message(self) -> str | None:
        if self.read_only:
            return "The data folder is on a read-only drive: nothing can be saved."
        if self.low:
            return (f"Only {self.available / 2**20:.0f} MB of disk space left. Free some space "
                    "before adding more photos.")
        return None


def _existing(path: Path) -> Path:
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def space_report(path: Path, low_threshold: int = LOW_SPACE_BYTES) -> SpaceReport:
    info = QStorageInfo(str(_existing(path)))
    if not info.isValid():
        return SpaceReport(available=-1, total=-1, low=False, read_only=False)
    available = int(info.bytesAvailable())
    return SpaceReport(available=available, total=int(info.bytesTotal()),
                       low=0 <= available < low_threshold, read_only=info.isReadOnly())


def has_room_for(path: Path, needed: int, reserve: int = IMPORT_RESERVE_BYTES) -> bool:
    report = space_report(path)
    return report.available < 0 or report.available >= needed + reserve
