"""The bundle's lock file (requirements/bundle.lock) and pyproject.toml agree: every
requirement of what the bundle is built from is pinned, at a version pyproject allows,
with hashes, for Linux and Windows alike; nothing the lock pins for kycdesk is a
requirement pyproject dropped. How to refresh it: docs/bundle.md."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
LOCK = REPO / "requirements" / "bundle.lock"
# The environments one lock must serve (the CI runners' and the tablets').
PLATFORMS = {
    "linux": {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix",
              "platform_machine": "x86_64", "implementation_name": "cpython",
              "platform_python_implementation": "CPython"},
    "windows": {"sys_platform": "win32", "platform_system": "Windows", "os_name": "nt",
                "platform_machine": "AMD64", "implementation_name": "cpython",
                "platform_python_implementation": "CPython"},
}
PYTHONS = ("3.11.9", "3.12.8", "3.13.1")


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    marker: Marker | None
    hashes: int
    via: tuple[str, ...]


def read_lock(text: str) -> list[Pin]:
    pins: list[Pin] = []
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2] if text.startswith("#")
                      else text)
    for block in blocks:
        head = block.split("\\", 1)[0].strip()
        if not head or head.startswith("#"):
            continue
        spec, _, marker = head.partition(";")
        name, _, version = spec.strip().partition("==")
        via = tuple(line.strip("# ").strip() for line in block.splitlines()
                    if line.strip().startswith("#") and "via" not in line)
        via += tuple(m.group(1).strip() for m in re.finditer(r"# via (.+)", block))
        pins.append(Pin(canonicalize_name(name), version.strip(),
                        Marker(marker.strip()) if marker.strip() else None,
                        block.count("--hash=sha256:"), via))
    return pins


def bundle_requirements() -> list[Requirement]:
    """What `dev.py bundle` builds from: the app's dependencies, the `bundle` extra and
    what it names of kycdesk's own extras, and the build backend (setuptools builds
    kycdesk with no build isolation, from the lock)."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    project = pyproject["project"]
    optional = project["optional-dependencies"]
    found = [*project["dependencies"], *pyproject["build-system"]["requires"]]
    todo = ["bundle"]
    while todo:
        for line in optional[todo.pop()]:
            requirement = Requirement(line)
            if canonicalize_name(requirement.name) == "kycdesk":
                todo += sorted(requirement.extras)
            else:
                found.append(line)
    return [Requirement(line) for line in found]


def pins_for(pins: list[Pin], environment: dict[str, str]) -> dict[str, Pin]:
    return {pin.name: pin for pin in pins
            if pin.marker is None or pin.marker.evaluate(environment)}


def test_every_bundle_requirement_is_pinned_within_pyproject_s_range_everywhere() -> None:
    pins = read_lock(LOCK.read_text(encoding="utf-8"))
    assert len(pins) > 20
    problems = []
    for platform_name, base in PLATFORMS.items():
        for python in PYTHONS:
            environment = dict(base, python_version=python.rsplit(".", 1)[0],
                               python_full_version=python)
            chosen = pins_for(pins, environment)
            for requirement in bundle_requirements():
                if requirement.marker and not requirement.marker.evaluate(environment):
                    continue
                pin = chosen.get(canonicalize_name(requirement.name))
                if pin is None:
                    problems.append(f"{requirement} is not in the lock "
                                    f"({platform_name}, Python {python})")
                elif not requirement.specifier.contains(pin.version, prereleases=True):
                    problems.append(f"{requirement}: the lock has {pin.version} "
                                    f"({platform_name}, Python {python})")
    assert problems == [], "refresh the lock (docs/bundle.md): " + "; ".join(problems)


def test_the_lock_pins_nothing_for_kycdesk_that_pyproject_no_longer_asks_for() -> None:
    asked = {canonicalize_name(r.name) for r in bundle_requirements()}
    pins = read_lock(LOCK.read_text(encoding="utf-8"))
    direct = {pin.name for pin in pins if any("kycdesk" in via for via in pin.via)}
    assert direct, "uv's annotations (# via kycdesk) are missing: was the lock hand-edited?"
    stale = direct - asked
    assert stale == set(), f"the lock pins {sorted(stale)} for kycdesk: refresh it"


def test_every_pin_is_exact_and_hashed_and_one_lock_serves_windows_too() -> None:
    text = LOCK.read_text(encoding="utf-8")
    assert "--universal" in text.splitlines()[1] and "--generate-hashes" in text.splitlines()[1]
    pins = read_lock(text)
    assert all(re.fullmatch(r"[0-9][0-9A-Za-z.+!-]*", pin.version) for pin in pins)
    assert [pin.name for pin in pins if pin.hashes == 0] == []
    windows = pins_for(pins, dict(PLATFORMS["windows"], python_version="3.11",
                                  python_full_version="3.11.9"))
    linux = pins_for(pins, dict(PLATFORMS["linux"], python_version="3.11",
                                python_full_version="3.11.9"))
    # PyInstaller's Windows-only dependencies are in the same file, behind markers.
    assert {"pefile", "pywin32-ctypes"} <= set(windows) - set(linux)


def test_the_lock_reader_sees_a_version_outside_pyproject_s_range() -> None:
    """The checks above can fail: a lock pinning an older PySide6 than pyproject allows is
    reported (read through the same reader, from a changed copy of the real lock)."""
    text = LOCK.read_text(encoding="utf-8")
    old = re.sub(r"^pyside6-essentials==\S+", "pyside6-essentials==6.7.0", text, flags=re.M)
    pins = {pin.name: pin for pin in read_lock(old)}
    requirement = next(r for r in bundle_requirements()
                       if canonicalize_name(r.name) == "pyside6-essentials")
    assert not requirement.specifier.contains(pins["pyside6-essentials"].version)
