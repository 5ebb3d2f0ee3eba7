"""Schemathesis hooks (SCHEMATHESIS_HOOKS=tests.schemathesis_hooks): photo bytes for the
tus routes' `application/offset+octet-stream` bodies."""

from __future__ import annotations

import schemathesis
from hypothesis import strategies as st

schemathesis.openapi.media_type("application/offset+octet-stream", st.binary(max_size=256))
