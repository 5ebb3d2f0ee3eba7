"""Which server addresses the app talks to.

The device token travels in every request: over plain HTTP anyone on the café's Wi-Fi or
the captive portal reads it, and the applicants' data with it. So the address must be
https://, except to this machine itself (the reference server in a demo or a test), or
when the lab flag `KYCDESK_LAB_ALLOW_PLAIN_HTTP=1` is set in the environment (a test
network; never on a verifier's tablet).
"""

from __future__ import annotations

import ipaddress
import os
from urllib.parse import urlsplit

LAB_FLAG = "KYCDESK_LAB_ALLOW_PLAIN_HTTP"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_problem(url: str) -> str | None:
    """Why this server address is refused, in the verifier's words; None if it is fine."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return f"The server address {url!r} is not a web address."
    if parts.scheme == "https" and host:
        return None
    if parts.scheme == "http" and host:
        if _is_loopback(host) or os.environ.get(LAB_FLAG) == "1":
            return None
        return ("The server address must start with https:// — over plain http:// the "
                "device token and the applicants' data could be read on the way.")
    return f"The server address {url!r} must start with https://"
