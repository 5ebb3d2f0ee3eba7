"""Crash-test child for the migration of a clear store: runs it and prints its progress,
so the parent can SIGKILL it at any step:

    PROGRESS <phase> <done> <total>
    DONE

Usage: python -m tests.crash.migration_child DATA_ROOT VERIFIER_ID KEY_HEX BATCH
(the key is a test key: the parent opens the result with the same one).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtGui import QGuiApplication

from kycdesk.paths import TabletPaths
from kycdesk.verifiers.migration import MigrationProgress, migrate_legacy_store
from tests.fixed_vault import vault_from_key


def emit(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def report(progress: MigrationProgress) -> None:
    emit(f"PROGRESS {progress.phase.value} {progress.done} {progress.total}")


def main(argv: list[str]) -> int:
    root, verifier_id, key_hex, batch = argv
    app = QGuiApplication(sys.argv[:1])
    tablet = TabletPaths(root=Path(root), log_dir=Path(root) / "logs")
    vault = vault_from_key(verifier_id, bytes.fromhex(key_hex))
    emit("READY")
    migrate_legacy_store(tablet.legacy_store(), tablet.store(verifier_id), vault,
                         progress=report, batch_size=int(batch))
    emit("DONE")
    del app
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
