"""Crash-test child for the migration of a clear store: runs it and prints its progress,
so the parent can SIGKILL it at any step:

    PROGRESS <phase> <done> <total>
    DONE

Usage: python -m tests.crash.migration_child DATA_ROOT VERIFIER_ID BATCH
(the test vault of `tests/vaults.py`: the parent opens the result with the same key).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtGui import QGuiApplication

from kycdesk.paths import TabletPaths
from kycdesk.verifiers.migration import MigrationProgress, migrate_legacy_store
from tests.vaults import make_vault


def emit(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def report(progress: MigrationProgress) -> None:
    emit(f"PROGRESS {progress.phase.value} {progress.done} {progress.total}")


def main(argv: list[str]) -> int:
    root, verifier_id, batch = argv
    app = QGuiApplication(sys.argv[:1])
    tablet = TabletPaths(root=Path(root), log_dir=Path(root) / "logs")
    vault = make_vault(verifier_id)
    emit("READY")
    migrate_legacy_store(tablet.legacy_store(), tablet.store(verifier_id), vault,
                         progress=report, batch_size=int(batch))
    emit("DONE")
    del app
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
