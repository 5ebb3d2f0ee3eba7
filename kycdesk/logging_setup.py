"""Rotating log file: technical detail goes here, verifiers see plain messages."""

from __future__ import annotations

import logging
import logging.handlers
import sys
import traceback
from pathlib import Path
from types import TracebackType

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
    install_excepthook()
    return path


def install_excepthook() -> None:
    """An exception nobody caught — in a Qt slot PySide6 prints it and carries on — goes to
    the log file with its traceback, not to a console nobody reads on a tablet. Only the
    exception's type and place are logged; a message could quote a verifier's input, so
    it is kept out (applicants' data never reaches the log)."""
    previous = sys.excepthook
    if getattr(previous, "_kycdesk", False):
        return

    def hook(kind: type[BaseException], value: BaseException,
             trace: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):  # Ctrl+C in a terminal: as usual
            previous(kind, value, trace)
            return
        where = "".join(traceback.format_tb(trace)) if trace is not None else ""
        logging.getLogger("kycdesk.uncaught").error(
            "uncaught %s.%s (details withheld: they may contain case data)\n%s",
            kind.__module__, kind.__qualname__, where)
        # Not chained to the default hook: it would print the message on stderr. The
        # record above also reaches stderr (warnings and worse are echoed there).

    hook._kycdesk = True  # type: ignore[attr-defined]
    sys.excepthook = hook
