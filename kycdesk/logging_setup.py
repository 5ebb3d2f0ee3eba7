"""Rotating log file: technical detail goes here, verifiers see plain messages."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from kycdesk.paths import ensure_private_dir

LOG_FILENAME = "kycdesk.log"
MAX_BYTES = 2 * 1024 * 1024
BACKUPS = 5


def configure(log_dir: Path, *, verbose: bool = False) -> Path | None:
    """Log to `log_dir/kycdesk.log` (rotating) and to stderr for warnings.

    Returns the log file path, or None when the folder cannot be written (a read-only
    profile must not stop the app from starting; stderr still gets the messages).
    """
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for handler in list(root.handlers):
        if getattr(handler, "_kycdesk", False):
            root.removeHandler(handler)
            handler.close()
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s")
    stderr = logging.StreamHandler()
    stderr.setLevel(logging.DEBUG if verbose else logging.WARNING)
    stderr.setFormatter(fmt)
    stderr._kycdesk = True  # type: ignore[attr-defined]
    root.addHandler(stderr)
    try:
        ensure_private_dir(log_dir)
        path = log_dir / LOG_FILENAME
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
        )
    except OSError as exc:
        logging.getLogger(__name__).warning("cannot write log file in %s: %s", log_dir, exc)
        return None
    handler.setFormatter(fmt)
    handler._kycdesk = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    return path
