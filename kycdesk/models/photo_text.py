"""Words for photo facts (missing is said as missing, never invented)."""

from __future__ import annotations

from kycdesk.core.records import Location


def describe_location(location: Location) -> str:
    if not location.known:
        return "No location"
    text = f"{location.latitude:.5f}, {location.longitude:.5f}"
    if location.accuracy is not None:
        text += f" ±{location.accuracy:.0f} m"
    if location.address:
        text += f" · {location.address}"
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
    text = captured_at.replace("T", " ").removesuffix("Z")
    if captured_at.endswith("Z"):
        text += " UTC"
    elif source == "exif":
        text += " (the camera's clock; its time zone is not known)"
    how = SOURCE_WORDS.get(source or "")
    return f"Taken {text}" + (f" — {how}" if how else "")
