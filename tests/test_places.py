"""The offline place finder (core/places.py) over the bundled data file: capitals, a
point at sea, both sides of the antimeridian, the poles, coarse GPS, declared towns."""

from __future__ import annotations

import pytest

from kycdesk.core.places import PlaceFinder, format_km, haversine_km
from kycdesk.core.records import Location
from kycdesk.persistence.places import name_place, place_finder


@pytest.fixture(scope="module")
def finder() -> PlaceFinder:
    found = place_finder()
    assert found is not None, "resources/geo/places.npz is missing or unreadable"
    return found


@pytest.mark.parametrize(("lat", "lon", "words"), [
    (-1.2864, 36.8172, "near Nairobi, Nairobi Area, Kenya"),
    (48.8566, 2.3522, "near Paris 04 Hôtel-de-Ville, Ile-de-France, France"),
    (52.5200, 13.4050, "near Mitte, Berlin, Germany"),  # a district is a place of its own
    (9.0300, 38.7400, "near Addis Ababa, Adis Abeba, Ethiopia"),
    (64.1466, -21.9426, "near Reykjavík, Capital Region, Iceland"),
    (-33.9249, 18.4241, "near Cape Town, Western Cape, South Africa"),
    (19.4326, -99.1332, "near Mexico City, Mexico"),
])
def test_capitals_are_near_themselves(finder: PlaceFinder, lat: float, lon: float,
                                      words: str) -> None:
    named = finder.describe(lat, lon)
    assert named.address == words
    assert named.source.startswith("nearest place, ")
    assert named.distance_km < 5 and not named.at_sea


def test_a_point_at_sea_says_so_and_how_far_the_nearest_place_is(finder: PlaceFinder) -> None:
    named = finder.describe(0.0, -30.0)  # mid-Atlantic
    assert named.at_sea
    assert named.address.startswith("at sea, ")
    assert " km from " in named.address and "Brazil" in named.address
    assert named.source == f"nearest place, {format_km(named.distance_km)}"
    assert 400 < named.distance_km < 700


def test_a_coast_is_land_not_sea(finder: PlaceFinder) -> None:
    # On the sea front of Mombasa: the ~7 km mask cell holds land, so "near", not "at sea".
    assert finder.describe(-4.0435, 39.6682).address.startswith("near Mombasa")


@pytest.mark.parametrize(("lat", "lon"), [(-16.79, 179.99), (-16.79, -179.99)])
def test_either_side_of_the_antimeridian_finds_the_same_town(
        finder: PlaceFinder, lat: float, lon: float) -> None:
    # Taveuni (Fiji) straddles 180°; the nearest town is Savusavu at 179.34° E. From
    # -179.99° a planar search on longitude would look 359° away for it.
    place, km = finder.nearest(lat, lon)
    assert (place.name, place.country) == ("Savusavu", "Fiji")
    assert 60 < km < 80


def test_across_the_antimeridian_the_distance_is_the_short_way(finder: PlaceFinder) -> None:
    assert haversine_km(0.0, 179.9, 0.0, -179.9) == pytest.approx(22.24, abs=0.05)


def test_the_poles(finder: PlaceFinder) -> None:
    north = finder.describe(90.0, 0.0)
    assert north.at_sea and north.address.startswith("at sea, ")
    assert "Svalbard" in north.address and 1200 < north.distance_km < 1400
    south = finder.describe(-90.0, 0.0)  # land (the ice sheet), thousands of km from a town
    assert not south.at_sea and not south.address.startswith("near ")
    assert south.address.endswith("Chile") and south.distance_km > 3000
    # Any longitude at a pole is the same point.
    assert finder.describe(90.0, 123.0).address == north.address


def test_gps_coarser_than_the_distance_is_said(finder: PlaceFinder) -> None:
    fine = finder.describe(-1.2864, 36.8172, accuracy_m=10.0)
    assert fine.source == "nearest place, under 1 km"
    coarse = finder.describe(-1.2864, 36.8172, accuracy_m=8000.0)
    assert coarse.source == "nearest place, under 1 km; the GPS fix is only good to ±8 km"
    assert coarse.address == fine.address


def test_no_gps_no_words() -> None:
    assert name_place(Location()) is None
    assert name_place(Location(latitude=1.0)) is None


def test_out_of_range_positions_get_no_words(finder: PlaceFinder) -> None:
    with pytest.raises(ValueError, match="not a position on Earth"):
        finder.describe(91.0, 0.0)
    assert name_place(Location(95.0, 0.0)) is None


def test_declared_towns_are_found_ignoring_case_and_accents(finder: PlaceFinder) -> None:
    sao_paulo = finder.find_town("  sao   PAULO ")
    assert sao_paulo is not None and sao_paulo.name == "São Paulo"
    paris = finder.find_town("Paris")
    assert paris is not None and paris.country_code == "FR"  # the most populous Paris
    texas = finder.find_town("Paris", "US")
    assert texas is not None and texas.country_code == "US"
    assert finder.find_town("Nowhere-upon-Nothing") is None
    assert finder.find_town("   ") is None


def test_the_banded_search_finds_what_a_scan_of_every_place_finds(finder: PlaceFinder) -> None:
    import math
    import random

    import numpy as np

    places = [finder.place(i) for i in range(len(finder))]
    lat = np.radians([p.latitude for p in places])
    lon = np.radians([p.longitude for p in places])

    def scanned(a: float, b: float) -> float:
        a, b = math.radians(a), math.radians(b)
        h = np.sin((lat - a) / 2) ** 2 + np.cos(a) * np.cos(lat) * np.sin((lon - b) / 2) ** 2
        return float(2 * 6371.0088 * np.arcsin(np.sqrt(h.min())))

    rng = random.Random(22)
    points = [(math.degrees(math.asin(rng.uniform(-1, 1))), rng.uniform(-180, 180))
              for _ in range(150)]
    for place in rng.sample(places, 150):  # located photos: close to a town
        points.append((max(-90.0, min(90.0, place.latitude + rng.uniform(-0.02, 0.02))),
                       (place.longitude + rng.uniform(-0.02, 0.02) + 180) % 360 - 180))
    points += [(90.0, 0.0), (-90.0, 45.0), (-16.79, -179.99), (65.9, -180.0)]
    for a, b in points:
        assert finder.nearest(a, b)[1] == pytest.approx(scanned(a, b), abs=1e-6), (a, b)
