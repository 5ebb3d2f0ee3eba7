"""The place finder's data for the server: the same file the app bundles
(resources/geo/places.npz, GeoNames CC BY 4.0), beside the packages in a checkout or
where an installed wheel put it (pyproject's data-files) — like the form definitions.
Loaded once per process by the first case page that needs it; without the file the
review shows no distances (said on the page), nothing else changes."""

from __future__ import annotations

import logging
import sys
import zipfile
from pathlib import Path

from kycdesk.core.places import PlaceFinder, shared_finder

log = logging.getLogger(__name__)

PLACES_FILES = (Path(__file__).resolve().parents[1] / "resources" / "geo" / "places.npz",
                Path(sys.prefix) / "share" / "kycdesk" / "geo" / "places.npz")


def server_place_finder() -> PlaceFinder | None:
    for path in PLACES_FILES:
        if path.is_file():
            try:
                return shared_finder(path)
            except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
                log.warning("place data %s unreadable: %s", path, exc)
                return None
    return None
