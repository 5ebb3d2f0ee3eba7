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
