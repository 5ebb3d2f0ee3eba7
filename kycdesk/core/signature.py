"""A signature as a field value: vector strokes plus the PNG they were rendered to.

The strokes are the evidence a reviewer can re-draw at any size (points in pad pixels,
each with the milliseconds since the first touch and the pen pressure, 0..1; a mouse or a
finger records 0.5). The PNG is what the applicant saw on the pad when they finished; its
SHA-256 ties the picture to the value, so a changed picture is detected, and `signed_at`
is when the last stroke ended. Qt-free: the server validates and draws it too.

Value (JSON in the form):
    {"strokes": ["x,y,t_ms,pressure x,y,t_ms,pressure ...", ...], "width": w, "height": h,
     "png": "<base64>", "png_sha256": "<hex>", "signed_at": "<instant>"}
One string per stroke, not a list per point: a submission is bounded in how many JSON
values it holds (`protocol.MAX_FORM_FIELDS`), and a signature's points would use them up.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

from kycdesk.core.clock import parse_instant

Point = tuple[float, float, int, float]  # x, y, milliseconds since the first point, pressure
Stroke = list[Point]

# A signature needs some ink: a tap or two accidental dots are not one.
MIN_POINTS = 8
MIN_EXTENT = 20.0  # pad pixels, in x or in y
MAX_POINTS = 20_000  # minutes of continuous writing; keeps a submission well under its cap


def smooth(stroke: Sequence[Point], passes: int = 2) -> Stroke:
    """Chaikin corner cutting: the polyline of sampled points becomes a smooth curve (each
    pass replaces every segment by its 1/4 and 3/4 points; the ends stay where the pen
    touched and lifted). Time and pressure are interpolated with the position."""
    points = list(stroke)
    for _ in range(passes):
        if len(points) < 3:
            return points
        out: Stroke = [points[0]]
        for a, b in pairwise(points):
            out.append(_mix(a, b, 0.25))
            out.append(_mix(a, b, 0.75))
        out.append(points[-1])
        points = out
    return points


def _mix(a: Point, b: Point, share: float) -> Point:
    keep = 1.0 - share
    return (round(a[0] * keep + b[0] * share, 2), round(a[1] * keep + b[1] * share, 2),
            round(a[2] * keep + b[2] * share), round(a[3] * keep + b[3] * share, 3))


def png_sha256(png: bytes) -> str:
    return hashlib.sha256(png).hexdigest()


def signature_value(strokes: Sequence[Sequence[Point]], width: int, height: int,
                    png: bytes, signed_at: str) -> dict[str, Any]:
    return {"strokes": [stroke_text(stroke) for stroke in strokes],
            "width": width, "height": height,
            "png": base64.b64encode(png).decode("ascii"), "png_sha256": png_sha256(png),
            "signed_at": signed_at}


def stroke_text(stroke: Sequence[Point]) -> str:
    return " ".join(f"{x:g},{y:g},{t},{p:g}" for x, y, t, p in stroke)


def _stroke(text: str) -> Stroke:
    points: Stroke = []
    for point in text.split():
        x, y, t, p = point.split(",")
        parsed = (float(x), float(y), int(t), float(p))
        if not all(math.isfinite(n) for n in parsed):
            raise ValueError(point)
        points.append(parsed)
    return points


def strokes_of(value: Any) -> list[Stroke]:
    """The strokes of a stored value ([] for anything that is not a signature)."""
    if not isinstance(value, dict) or not isinstance(value.get("strokes"), list):
        return []
    try:
        strokes = [_stroke(stroke) for stroke in value["strokes"]]
    except (AttributeError, ValueError):  # not text, or not four numbers a point
        return []
    return [stroke for stroke in strokes if stroke]


def signature_problem(value: Any) -> str | None:
    """None for a whole signature; else what is wrong, in words."""
    strokes = strokes_of(value)
    if not strokes:
        return "Sign in the box."
    points = [point for stroke in strokes for point in stroke]
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    if len(points) > MAX_POINTS:
        return f"This signature has more than {MAX_POINTS} points: clear it and sign again."
    if len(points) < MIN_POINTS or max(max(xs) - min(xs), max(ys) - min(ys)) < MIN_EXTENT:
        return "This is too short to be a signature: sign again."
    try:
        png = base64.b64decode(str(value.get("png", "")), validate=True)
    except (binascii.Error, ValueError):
        png = b""
    if not png or png_sha256(png) != value.get("png_sha256"):
        return "The signature's picture does not match its record: sign again."
    try:
        parse_instant(str(value.get("signed_at", "")))
    except ValueError:
        return "The signature has no time of signing: sign again."
    return None


def svg_path(stroke: Sequence[Point]) -> str:
    """An SVG path (`d`) through the stroke's points, for drawing it without Qt."""
    if not stroke:
        return ""
    head, *rest = stroke
    if not rest:  # a dot
        return f"M{head[0]:.1f} {head[1]:.1f}h0.1"
    return f"M{head[0]:.1f} {head[1]:.1f}" + "".join(
        f"L{p[0]:.1f} {p[1]:.1f}" for p in rest)
