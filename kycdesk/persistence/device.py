"""This installation's device id: created once, kept in the data dir (it moves with the
data, so a restored tablet keeps claiming its own cases on the server)."""

from __future__ import annotations

import uuid

from kycdesk.paths import DataPaths, ensure_private_dir

DEVICE_ID_FILE = "device-id"


def device_id(paths: DataPaths) -> str:
    path = paths.root / DEVICE_ID_FILE
    try:
        value = path.read_text(encoding="ascii").strip()
        if value:
            return value
    except FileNotFoundError:
        pass
    ensure_private_dir(paths.root)
    value = f"kycdesk-{uuid.uuid4()}"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(value, encoding="ascii")
    tmp.replace(path)
    return value
