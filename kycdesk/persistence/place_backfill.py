"""Place names for photos located before this version (schema 9 added `address_source`):
after the window is up, one background task per start reads up to BATCH located photos
that have no words yet (its own read-only connection), names them, and hands the names
to the writer in one command (`commands.NamePhotos`). Bounded per start — a device with
more catches up over the next starts; new photos are named at import, not here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from kycdesk.background import Priority, Task, TaskControl, run_task
from kycdesk.core.errors import StoreError
from kycdesk.core.records import Location
from kycdesk.paths import DataPaths
from kycdesk.persistence.db import Connection
from kycdesk.persistence.images import IMAGE_COLUMNS, image_from_row
from kycdesk.persistence.places import name_place
from kycdesk.persistence.store import open_connection
from kycdesk.security.vault import Vault

log = logging.getLogger(__name__)

BATCH = 5000  # ≈ 1.5 s of one background thread (0.3 ms a photo), once per start

PlaceWords = tuple[int, str, str]  # image id, address, address_source
SubmitNames = Callable[[list[PlaceWords]], None]


def unnamed_photos(conn: Connection, limit: int = BATCH) -> list[tuple[int, Location]]:
    """Located photos without a place name (marked in clear: `place_pending`); their
    positions are opened here, in the background task's thread."""
    rows = conn.query_all(f"SELECT {IMAGE_COLUMNS} FROM case_images WHERE place_pending = 1 "
                          "ORDER BY id LIMIT ?", (limit,))
    located: list[tuple[int, Location]] = []
    for row in rows:
        where = image_from_row(conn, row).location
        located.append((int(row[0]), Location(where.latitude, where.longitude,
                                              where.accuracy)))
    return located


def name_photos(photos: list[tuple[int, Location]],
                control: TaskControl[None] | None = None) -> list[PlaceWords]:
    named: list[PlaceWords] = []
    for image_id, location in photos:
        if control is not None and control.cancelled():
            break
        place = name_place(location)
        if place is not None:
            named.append((image_id, place.address, place.source))
    return named


def start_place_backfill(paths: DataPaths, submit_names: SubmitNames, *, vault: Vault,
                         limit: int = BATCH) -> Task[list[PlaceWords], None]:
    """Name up to `limit` photos in the background; `submit_names(words)` (GUI thread)
    passes them to the writer. `vault` opens the photos' sealed locations."""

    def work(control: TaskControl[None]) -> list[PlaceWords]:
        try:
            conn = open_connection(paths, writer=False, role="places", vault=vault)
        except StoreError as exc:
            log.warning("place names of older photos not filled: %s", exc)
            return []
        try:
            photos = unnamed_photos(conn, limit)
        except StoreError as exc:  # a photo's sealed place does not open: named later
            log.warning("place names of older photos not filled: %s", exc)
            return []
        finally:
            conn.close()
        return name_photos(photos, control)

    def done(words: list[PlaceWords]) -> None:
        if words:
            submit_names(words)

    return run_task(work, done, name="place names", priority=Priority.LOW)
