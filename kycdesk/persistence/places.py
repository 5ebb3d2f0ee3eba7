"""The app's place finder: the bundled places file (resources/geo/places.npz) loaded once,
by the first import worker or background task that needs it — never the GUI thread.

A missing or damaged data file costs the place names only: the photo is stored with its
coordinates and no address (logged once), never refused for it."""

from __future__ import annotations

import logging
import zipfile
from typing import TYPE_CHECKING

from kycdesk.core.records import Location
from kycdesk.resources import resource_path

if TYPE_CHECKING:  # numpy is imported with the finder, not at start (start-up time)
    from kycdesk.core.places import PlaceFinder, PlaceName

log = logging.getLogger(__name__)

_unavailable = False


def place_finder() -> PlaceFinder | None:
    global _unavailable  # noqa: PLW0603 - one warning per process, not one per photo
    if _unavailable:
        return None
    from kycdesk.core.places import shared_finder

    try:
        return shared_finder(resource_path("geo", "places.npz"))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        _unavailable = True
        log.warning("place names unavailable (%s: %s); photos keep coordinates only",
                    type(exc).__name__, exc)
        return None


def name_place(location: Location) -> PlaceName | None:
    """The place words for a located photo; None without GPS (nothing is guessed)."""
    if location.latitude is None or location.longitude is None:
        return None
    finder = place_finder()
    if finder is None:
        return None
    try:
        return finder.describe(location.latitude, location.longitude, location.accuracy)
    except ValueError:
        return None  # not a position on Earth: the coordinates are shown as they are


def with_place(location: Location) -> Location:
    """`location` with its place words, unless it has words already or no GPS."""
    if location.address is not None:
        return location
    named = name_place(location)
    if named is None:
        return location
    return Location(location.latitude, location.longitude, location.accuracy,
                    named.address, named.source)
