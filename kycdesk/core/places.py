"""Where a photo was taken, in words, offline: the nearest populated place (≥ 1,000
people, GeoNames), its first-level region and country, and how far away it is.

Never a street address: the words say "near Nairobi, Nairobi Area, Kenya" and the source
says how they were found ("nearest place, 3 km"). A point whose whole ~7 km mask cell is
sea is "at sea, 42 km from …"; a point on land far from any town says the distance instead
of "near". A GPS fix coarser than the distance is said too.

The data (resources/geo/places.npz, made by tools/make_places.py) is read once, by whoever
needs it first, off the GUI thread (the app: the writer's import thread or a background
task; the server: its request thread). Nearest place = the largest dot product of unit
vectors on the sphere (float64: float32 cannot tell 0.5 km from 1.5 km apart this way),
so the antimeridian and the poles need no special case; the distance said is the
haversine distance to it. The places are sorted by latitude: a narrow band around the
point gives a first candidate at angle D, and only the band ±D can hold a nearer one
(a place within D of the point is within D of its latitude), so a photo near a town
scans a few thousand places, not all. Pure numpy, no Qt: the server uses it too.
"""

from __future__ import annotations

import bisect
import math
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

EARTH_RADIUS_KM = 6371.0088  # the mean radius (IUGG)
NEAR_KM = 50.0               # farther than this from any town, "near" would mislead


@dataclass(frozen=True)
class Place:
    name: str
    region: str
    country: str          # the country's name
    country_code: str     # ISO 3166-1 alpha-2
    latitude: float
    longitude: float
    population: int

    def words(self) -> str:
        parts: list[str] = []
        for part in (self.name, self.region, self.country):
            if part and part not in parts:
                parts.append(part)
        return ", ".join(parts)


@dataclass(frozen=True)
class PlaceName:
    """What is stored beside a photo's coordinates: `address` and `address_source`."""

    address: str
    source: str
    place: Place
    distance_km: float
    at_sea: bool


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def format_km(km: float) -> str:
    if km < 1:
        return "under 1 km"
    return f"{round(km):,} km"


def _unit_vectors(latitude: np.ndarray, longitude: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lat, lon = np.radians(latitude.astype(np.float64)), np.radians(longitude.astype(np.float64))
    return np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)


FIRST_BAND_DEG = 0.5


def _lines(blob: np.ndarray) -> list[str]:
    return bytes(blob).decode("utf-8").split("\n")


def fold_name(text: str) -> str:
    """A town's name for matching: case, accents and spacing ignored ("São Paulo" ==
    "sao  paulo")."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.replace("-", " ").replace("'", " ").split())


class PlaceFinder:
    """The places and the sea mask in memory; read-only after load, so lookups are
    thread-safe."""

    def __init__(self, path: Path) -> None:
        with np.load(path, allow_pickle=False) as data:
            self._latitude = data["latitude"].astype(np.float64)
            self._longitude = data["longitude"].astype(np.float64)
            self._population = data["population"]
            self._region = data["region"]
            self._country = data["country"]
            self._names = _lines(data["names"])
            self._regions = _lines(data["regions"])
            countries = [line.split("\t", 1) for line in _lines(data["countries"])]
            # Every name as fold_name made it, sorted, and the place each is (the tool's).
            self._folded = _lines(data["folded"])
            self._folded_place = data["folded_place"]
            self._sea = data["sea"]
            rows, cols = (int(n) for n in data["sea_shape"])
        self._country_codes = [c[0] for c in countries]
        self._country_names = [c[1] for c in countries]
        self._sea_rows, self._sea_cols = rows, cols
        self._x, self._y, self._z = _unit_vectors(self._latitude, self._longitude)

    def __len__(self) -> int:
        return len(self._names)

    def place(self, index: int) -> Place:
        country = int(self._country[index])
        return Place(self._names[index], self._regions[int(self._region[index])],
                     self._country_names[country], self._country_codes[country],
                     float(self._latitude[index]), float(self._longitude[index]),
                     int(self._population[index]))

    def nearest(self, latitude: float, longitude: float) -> tuple[Place, float]:
        """The nearest place and its distance in km (haversine)."""
        _check(latitude, longitude)
        px, py, pz = (float(c[0]) for c in _unit_vectors(np.array([latitude]),
                                                            np.array([longitude])))
        found = self._best_in_band(latitude, FIRST_BAND_DEG, px, py, pz)
        if found is None:
            band = 180.0
        else:
            # Nothing farther than the candidate's angle can be nearer (+ a hair for
            # rounding); the band is then searched whole.
            band = math.degrees(math.acos(max(-1.0, min(1.0, found[1])))) + 1e-6
        if band > FIRST_BAND_DEG or found is None:
            found = self._best_in_band(latitude, band, px, py, pz)
        assert found is not None  # the whole globe holds at least one place
        place = self.place(found[0])
        return place, haversine_km(latitude, longitude, place.latitude, place.longitude)

    def _best_in_band(self, latitude: float, band: float, px: float, py: float, pz: float
                      ) -> tuple[int, float] | None:
        lo = int(np.searchsorted(self._latitude, latitude - band, side="left"))
        hi = int(np.searchsorted(self._latitude, latitude + band, side="right"))
        if lo >= hi:
            return None
        dots = self._x[lo:hi] * px
        dots += self._y[lo:hi] * py
        dots += self._z[lo:hi] * pz
        best = int(np.argmax(dots))
        return lo + best, float(dots[best])

    def at_sea(self, latitude: float, longitude: float) -> bool:
        """True only where the whole mask cell around the point is sea (coasts are land)."""
        _check(latitude, longitude)
        row = min(self._sea_rows - 1, int((90.0 - latitude) / 180.0 * self._sea_rows))
        col = min(self._sea_cols - 1, int((longitude + 180.0) / 360.0 * self._sea_cols))
        return bool(self._sea[row, col >> 3] & (0x80 >> (col & 7)))

    def describe(self, latitude: float, longitude: float,
                 accuracy_m: float | None = None) -> PlaceName:
        place, km = self.nearest(latitude, longitude)
        sea = self.at_sea(latitude, longitude)
        if sea:
            address = f"at sea, {format_km(km)} from {place.words()}"
        elif km <= NEAR_KM:
            address = f"near {place.words()}"
        else:
            address = f"{format_km(km)} from {place.words()}"
        source = f"nearest place, {format_km(km)}"
        if accuracy_m is not None and accuracy_m / 1000.0 > max(km, 1.0):
            source += f"; the GPS fix is only good to ±{format_km(accuracy_m / 1000.0)}"
        return PlaceName(address, source, place, km, sea)

    def find_town(self, name: str, country_code: str | None = None) -> Place | None:
        """The most populous place of that name (in that country, if given); None if the
        name is no place we know. For the declared town of a form's address."""
        key = fold_name(name)
        if not key:
            return None
        code = (country_code or "").upper()
        found = []
        at = bisect.bisect_left(self._folded, key)
        while at < len(self._folded) and self._folded[at] == key:
            index = int(self._folded_place[at])
            if not code or self._country_codes[int(self._country[index])] == code:
                found.append(index)
            at += 1
        if not found:
            return None
        return self.place(max(found, key=lambda i: int(self._population[i])))


def _check(latitude: float, longitude: float) -> None:
    if not (-90.0 <= latitude <= 90.0 and -180.0 <= longitude <= 180.0):
        raise ValueError(f"not a position on Earth: {latitude}, {longitude}")


_shared: dict[Path, PlaceFinder] = {}
_shared_lock = threading.Lock()


def shared_finder(path: Path) -> PlaceFinder:
    """One finder per data file for the process, loaded by its first user (never the GUI
    thread: callers are import workers, background tasks and server requests)."""
    with _shared_lock:
        finder = _shared.get(path)
        if finder is None:
            finder = _shared[path] = PlaceFinder(path)
        return finder
