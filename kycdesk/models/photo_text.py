"""Words for photo facts (missing is said as missing, never invented)."""

from __future__ import annotations

from kycdesk.core.clock import WallTime, parse_taken
from kycdesk.core.records import Location


def describe_location(location: Location) -> str:
    if not location.known:
        return "No location"
    text = f"{location.latitude:.5f}, {location.longitude:.5f}"
    if location.accuracy is not None:
        text += f" ±{location.accuracy:.0f} m"
    if location.address:
        text += f" · {location.address}"
        if location.address_source:  # how the words were found: never mistaken for a street
            text += f" ({location.address_source})"
    return text


SOURCE_WORDS = {
    "exif": "from the photo",
    "camera": "by this device's camera",
    "file": "the file's date, not the photo's",
    "import": "when it was added here, not when it was taken",
}


def describe_taken(captured_at: str | None, source: str | None) -> str:
    """When the photo was taken, and how far that can be trusted — said, not implied."""
    if not captured_at:
        return "Taken at an unknown time"
    try:
        taken = parse_taken(captured_at)
    except ValueError:
        return f"Taken {captured_at}"  # unreadable: said as written, not invented
    if isinstance(taken, WallTime):
        text = taken.moment.strftime("%Y-%m-%d %H:%M:%S")
        if source == "exif":
            text += " (the camera's clock; its time zone is not known)"
    else:
        text = taken.strftime("%Y-%m-%d %H:%M:%S") + " UTC"
    how = SOURCE_WORDS.get(source or "")
    return f"Taken {text}" + (f" — {how}" if how else "")
