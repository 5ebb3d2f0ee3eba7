"""What support staff ask for first: versions and where the data is."""

from __future__ import annotations

import platform
import sys

from kycdesk import __version__
from kycdesk.paths import DataPaths


def about_lines(paths: DataPaths) -> list[str]:
    import PySide6
    from PySide6.QtCore import qVersion

    lines = [f"kycdesk {__version__}"]
    try:
        from kycdesk.models.form_registry import FormRegistry

        registry = FormRegistry.load()
        forms = ", ".join(f"{form_id} v{'/'.join(registry.versions(form_id))}"
                          for form_id in registry.form_ids())
    except Exception as exc:  # the about box must show even when forms are broken
        forms = f"not loadable ({exc})"
    lines += [
        f"form definitions: {forms}",
        f"Qt {qVersion()} (PySide6 {PySide6.__version__}), Python {platform.python_version()}"
        f" on {platform.system()} {platform.release()} {platform.machine()}",
        f"data folder: {paths.root}",
        f"log folder: {paths.log_dir}",
        f"bundle: {'frozen' if getattr(sys, 'frozen', False) else 'from source'}",
    ]
    release = release_stamp()
    if release is not None:
        lines.append(f"release: {release}")
    return lines


def release_stamp() -> str | None:
    """The signed release this bundle was installed as (docs/updates.md), if any."""
    import json
    from pathlib import Path

    from kycdesk.update.pointer import RELEASE_STAMP

    try:
        stamp = json.loads((Path(sys.executable).parent / RELEASE_STAMP).read_bytes())
        return str(stamp["version"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
