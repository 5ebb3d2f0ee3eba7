"""How far the site photos were taken from the town the applicant declared — a fact for
the reviewer, never a verdict.

Computed here, on the server, from the photos' GPS positions and the declared town's
position in the same GeoNames places the app names photos with (core/places.py): the
declared address is the current revision's answer (it may change after the photo was
taken), and the reviewer should not have to trust a number the device worked out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kycdesk.core.places import PlaceFinder, format_km, haversine_km
from kycdesk_server.backoffice.case_view import Photo

DECLARED_TOWN = "address.city"
DECLARED_COUNTRY = "address.country"
SITE_SLOT = "site"


@dataclass(frozen=True)
class SitePhotoDistance:
    client_image_id: str
    place: str | None        # the photo's place words as the device named them
    distance: str            # "3 km", "under 1 km"


@dataclass(frozen=True)
class SiteDistance:
    declared_town: str       # as typed
    town: str | None         # the place it was matched to ("Leeds, England, United Kingdom")
    photos: list[SitePhotoDistance]
    note: str | None         # why there is no distance, in the reviewer's words


def site_distance(values: Mapping[str, Any], photos: list[Photo],
                  finder: PlaceFinder | None) -> SiteDistance | None:
    """None when there is nothing to compare (no declared town and no site photo)."""
    town_text = str(values.get(DECLARED_TOWN) or "").strip()
    site = [p for p in photos if p.slot == SITE_SLOT]
    if not town_text or not site:
        return None
    located = [p for p in site if p.latitude is not None and p.longitude is not None]
    if not located:
        return SiteDistance(town_text, None, [], "No site photo has a GPS position.")
    if finder is None:
        return SiteDistance(town_text, None, [],
                            "The server has no place data to compare with.")
    country = str(values.get(DECLARED_COUNTRY) or "")
    town = finder.find_town(town_text, country if len(country) == 2 else None)
    if town is None:
        return SiteDistance(town_text, None, [],
                            "The declared town is not among the places the server knows "
                            "(GeoNames places of 1,000 people or more).")
    return SiteDistance(town_text, town.words(), [
        SitePhotoDistance(p.client_image_id, p.address, format_km(haversine_km(
            float(p.latitude or 0.0), float(p.longitude or 0.0), town.latitude,
            town.longitude)))
        for p in located], None)
