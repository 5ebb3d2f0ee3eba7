"""Read an MRZ from a photo: find the zone, straighten it, cut its characters, recognise them.

The engine is our own fixed-pitch template matcher (numpy + Pillow, no model, nothing
downloaded): the MRZ alphabet is 37 characters of one typeface, OCR-B, printed at a fixed
pitch, so a character is recognised by correlating its cell with the typeface's glyphs
(rendered once from the public-domain OCR-B font shipped in resources/fonts). Why this
engine and not a general OCR: docs/architecture.md, "ID documents".

Steps: a grey copy 1,200 px wide; the angle (±10°) that makes dark pixels fall into the
sharpest horizontal bands; the bands at the bottom that look like MRZ lines (two or three,
of one height and wide); each line cut into its 30, 36 or 44 equal cells; each cell matched.
The text goes to `kycdesk.core.mrz.parse`; if a layout's digits fail, the other layouts of
the same line count are tried. Blocking and CPU-bound: the app calls it through `run_task`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

from kycdesk.core.mrz import MrzError, MrzReading, parse
from kycdesk.resources import resource_path

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<"
_WORK_WIDTH = 1200
_FINE_WIDTH = 2400
_CELL = (16, 24)  # a character's cell, normalised (width, height)
# A character of an alphanumeric field whose best glyph beats the runner-up by less than
# this (correlation) is a doubt: two such errors can cancel in the mod-10 digits (O→Q twice
# passed every digit in the benchmark), so the zone is then not trusted. Set from the
# generated set: 5 of 6 wrong characters fell below it, ~1 % of right ones.
_DOUBT = 0.03
# The names' line has no check digit: a letter whose best glyph leads by less than this is
# a doubt, and the names are then not offered. Set from real photos (PassportEye's public
# specimens, benchmarks/mrz_specimens.py): the four verified reads with a wrong name led
# by 0.001-0.030 at their weakest letter; right names by 0.06-0.15, but for three small or
# upscaled scans (0.010-0.036: their names are withheld too). On the generated set it
# withholds 1 of 146 right names and no wrong one was read there.
_NAME_DOUBT = 0.04
_MARGIN = 0.15  # page kept above and below a line's cap height, as a share of it
# Template variants per glyph (at 48 px, cap height ~34 px): Gaussian blur radii and
# vertical shifts in pixels.
_TEMPLATE_BLURS = (0.0, 1.5, 3.0)
_TEMPLATE_SHIFTS = (-2, 0, 2)
_LENGTHS = {3: (30,), 2: (44, 36)}

Gray = NDArray[np.float32]

# What each position of a layout may hold (Doc 9303): d digit (or `<` where a field may be
# empty), a letter or `<`, x any. Reading by position's type is what a trained reader does;
# the check digits still decide what is accepted.
_LAYOUTS: dict[int, tuple[str, ...]] = {
    30: ("aaaaa" + "x" * 9 + "d" + "x" * 15,
         "d" * 7 + "a" + "d" * 7 + "aaa" + "x" * 11 + "d",
         "a" * 30),
    36: ("a" * 36, "x" * 9 + "d" + "aaa" + "d" * 7 + "a" + "d" * 7 + "x" * 7 + "d"),
    44: ("a" * 44, "x" * 9 + "d" + "aaa" + "d" * 7 + "a" + "d" * 7 + "x" * 14 + "dd"),
}
_ALLOWED = {
    "d": np.array([c.isdigit() or c == "<" for c in ALPHABET]),
    "a": np.array([c.isalpha() or c == "<" for c in ALPHABET]),
    "x": np.ones(len(ALPHABET), dtype=bool),
}


class MrzNotFoundError(Exception):
    """No zone was found in the photo, or none of its readings is an MRZ."""


@dataclass(frozen=True)
class PhotoReading:
    reading: MrzReading
    angle: float  # degrees the photo was turned to straighten the zone


def read_photo(path: Path, today: date) -> PhotoReading:
    with Image.open(path) as opened:
        image = ImageOps.exif_transpose(opened).convert("L")
    return read_image(image, today)


def read_image(image: Image.Image, today: date) -> PhotoReading:
    scale = _WORK_WIDTH / image.width
    small = image.resize((_WORK_WIDTH, max(1, round(image.height * scale))),
                         Image.Resampling.BILINEAR)
    angle = _skew_angle(small)
    straight = small.rotate(angle, resample=Image.Resampling.BILINEAR, expand=True,
                            fillcolor=int(np.median(np.asarray(small))))
    gray = np.asarray(straight, dtype=np.float32)
    bands = _mrz_bands(gray)
    if not bands:
        raise MrzNotFoundError("no machine-readable zone found")
    # The lines are found on the small copy and read on a finer one, turned the same way:
    # glyph detail (O/Q, 5/S) is what the small copy loses.
    fine_width = min(image.width, _FINE_WIDTH)
    fine_image = image.resize((fine_width, max(1, round(image.height * fine_width
                                                         / image.width))),
                              Image.Resampling.BILINEAR)
    fine = np.asarray(fine_image.rotate(angle, resample=Image.Resampling.BILINEAR,
                                        expand=True,
                                        fillcolor=int(np.median(np.asarray(small)))),
                      dtype=np.float32)
    factor = fine.shape[0] / gray.shape[0]
    bands = [(round(top * factor), round(bottom * factor)) for top, bottom in bands]
    gray = fine
    best: MrzReading | None = None
    for count in (3, 2):
        if len(bands) < count:
            continue
        lines_at = bands[-count:]
        for length in _LENGTHS[count]:
            read = [_read_line(gray, top, bottom, length, classes)
                    for (top, bottom), classes in zip(lines_at, _LAYOUTS[length], strict=True)]
            # The names: TD1's third line; TD2/TD3's first after the code and state.
            names = read[2][2] if count == 3 else read[0][2][5:]
            try:
                reading = parse([text for text, _, _ in read], today,
                                sure=all(sure for _, sure, _ in read),
                                names_sure=min(names, default=1.0) >= _NAME_DOUBT)
            except MrzError:
                continue
            if reading.all_digits_passed:
                return PhotoReading(reading, angle)
            if best is None or sum(reading.digits.values()) > sum(best.digits.values()):
                best = reading
    if best is None:
        raise MrzNotFoundError("the zone's lines could not be read")
    return PhotoReading(best, angle)


def skew_angle(image: Image.Image) -> float:
    """Degrees to turn a grey `image` (PIL's sense) so its rows of short dark marks (text,
    a barcode's bars) run level; within ±10°."""
    scale = _WORK_WIDTH / image.width
    return _skew_angle(image.resize((_WORK_WIDTH, max(1, round(image.height * scale))),
                                    Image.Resampling.BILINEAR))


def _dark_mask(gray: Gray, radius: int = 15) -> NDArray[np.bool_]:
    """Ink: darker than its neighbourhood's mean by a margin (copes with glare)."""
    blurred = _box_blur(gray, radius)
    mask: NDArray[np.bool_] = gray < blurred - 18
    return mask


def _box_blur(gray: Gray, radius: int) -> Gray:
    padded = np.pad(gray, radius, mode="edge")
    summed = padded.cumsum(axis=0).cumsum(axis=1)
    summed = np.pad(summed, ((1, 0), (1, 0)))
    size = 2 * radius + 1
    total = (summed[size:, size:] - summed[:-size, size:] - summed[size:, :-size]
             + summed[:-size, :-size])
    mean: Gray = (total / (size * size)).astype(np.float32)
    return mean


def _skew_angle(small: Image.Image) -> float:
    gray = np.asarray(small, dtype=np.float32)
    # Only short marks vote: a card's or a photo's long straight edges would otherwise
    # outvote the text (and they are often not parallel to it under perspective).
    ys, xs = np.nonzero(_short_marks(_dark_mask(gray), longest=gray.shape[1] // 30))
    if len(ys) == 0:
        return 0.0
    best_angle, best_score = 0.0, -1.0
    for angle in np.arange(-10.0, 10.01, 0.25):
        radians = np.deg2rad(angle)
        # The row each ink pixel lands on once the image is turned by `angle` (PIL turns
        # counter-clockwise, y down).
        rows = (ys * np.cos(radians) + xs * np.sin(radians)).astype(np.int32)
        counts = np.bincount(rows - rows.min())
        score = float(np.square(counts.astype(np.float64)).sum())
        if score > best_score:
            best_angle, best_score = float(angle), score
    return -best_angle


def _short_marks(mask: NDArray[np.bool_], longest: int) -> NDArray[np.bool_]:
    """`mask` without its horizontal runs longer than `longest` pixels."""
    height, width = mask.shape
    padded = np.pad(mask, ((0, 0), (1, 1))).astype(np.int8).ravel()
    edges = np.diff(padded)
    starts, ends = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]
    long_runs = ends - starts > longest
    inside = np.zeros(padded.size + 1, dtype=np.int32)
    np.add.at(inside, starts[long_runs] + 1, 1)  # a run covers padded[start + 1 : end + 1]
    np.add.at(inside, ends[long_runs] + 1, -1)
    in_long = np.cumsum(inside)[:-1].reshape(height, width + 2)[:, 1:-1] > 0
    kept: NDArray[np.bool_] = mask & ~in_long
    return kept


def _mrz_bands(gray: Gray) -> list[tuple[int, int]]:
    """Rows of text whose ink spans most of the width, bottom-most last."""
    mask = _dark_mask(gray)
    width = gray.shape[1]
    row_ink = mask.sum(axis=1)
    spans = []
    for row in mask:
        hits = np.nonzero(row)[0]
        spans.append(int(hits[-1] - hits[0]) if len(hits) > 1 else 0)
    # A row through a line of characters crosses many marks; a row through the page's or
    # the photo's edges, few.
    marks = (mask[:, 1:] & ~mask[:, :-1]).sum(axis=1)
    inked = (row_ink > 0.02 * width) & (np.asarray(spans) > 0.45 * width) & (marks >= 10)
    bands: list[tuple[int, int]] = []
    start = None
    for y, on in enumerate(inked):
        if on and start is None:
            start = y
        elif not on and start is not None:
            if y - start >= 6:
                bands.append((start, y))
            start = None
    # A line of characters is many separate marks; a page's edge is one long one.
    bands = [(a, b) for a, b in bands if len(_ink_runs(np.asarray(mask[a:b].any(axis=0)))) >= 15]
    if not bands:
        return []
    # The zone: the bottom-most run of bands of similar height and regular spacing.
    heights = np.median([b - a for a, b in bands[-3:]])
    zone = [band for band in bands if 0.6 * heights <= band[1] - band[0] <= 1.6 * heights]
    return zone[-3:]


def _read_line(gray: Gray, top: int, bottom: int, length: int, classes: str = ""
               ) -> tuple[str, bool, list[float]]:
    """The line's text, whether every alphanumeric position was read without doubt, and
    each position's lead when it is a letter of a letters-only field (else 1.0)."""
    # Only columns on the page count: the desk beside a card is dark from top to bottom,
    # a character's column has page showing just above or below the line.
    # Work on the line's neighbourhood only (the fine copy is large).
    height = bottom - top
    low = max(0, top - height)
    gray = gray[low:bottom + height]
    top, bottom = top - low, bottom - low
    pad = max(2, (bottom - top) // 4)
    around = gray[max(0, top - pad):bottom + pad]
    brightest = np.percentile(around, 95, axis=0)
    on_page = brightest > float(np.median(brightest)) - 40
    mask = _dark_mask(gray, radius=max(7, height * 3 // 4)) & on_page[np.newaxis, :]
    top, bottom = _refine_rows(mask, top, bottom)
    margin = max(1, round((bottom - top) * _MARGIN))
    strip = gray[max(0, top - margin):bottom + margin]
    ink = mask[max(0, top - margin):bottom + margin]
    runs = _line_marks(_ink_runs(np.asarray(ink.any(axis=0))))
    if len(runs) < 2:
        return "<" * length, False, [0.0] * length
    # Glyphs sit centred in fixed-pitch cells: the first and last glyphs' centres give the
    # pitch (their edges would not: an I is narrower than its cell).
    first, last = sum(runs[0]) / 2, sum(runs[-1]) / 2
    pitch = (last - first) / (length - 1)
    centres = _fit_centres(runs, first, pitch, length)
    # A line of letters only is as tall as a capital; one with digits, as tall as a digit
    # (OCR-B's digits stand taller): the glyphs are matched on the line's own height.
    templates = _templates(letters_only=set(classes) == {"a"})
    text = []
    sure = True
    letter_leads = []
    for index in range(length):
        centre = float(centres[index])
        x0, x1 = round(centre - pitch / 2), round(centre + pitch / 2)
        x0, x1 = max(0, x0), max(x1, x0 + 1)
        kind = classes[index] if classes else "x"
        char, lead = _match(strip[:, x0:x1], ink[:, x0:x1], templates, _ALLOWED[kind])
        text.append(char)
        sure &= kind != "x" or lead >= _DOUBT
        letter_leads.append(lead if kind == "a" and char != "<" else 1.0)
    return "".join(text), sure, letter_leads


def _fit_centres(runs: list[tuple[int, int]], first: float, pitch: float, length: int
                 ) -> NDArray[np.float64]:
    """Each cell's centre, fitted (a quadratic in the cell's index) to the centres of the
    marks that are one glyph wide: perspective makes the pitch grow along the line."""
    centres = np.array([(a + b) / 2 for a, b in runs if b - a + 1 <= 1.2 * pitch])
    index = np.round((centres - first) / pitch)
    keep = (index >= 0) & (index < length)
    if int(keep.sum()) < 6:
        fitted: NDArray[np.float64] = first + pitch * np.arange(length, dtype=np.float64)
        return fitted
    coefficients = np.polyfit(index[keep], centres[keep], 2)
    return np.asarray(np.polyval(coefficients, np.arange(length, dtype=np.float64)),
                      dtype=np.float64)


def _line_marks(runs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The marks of the line itself: a mark set apart from its neighbour by more than
    twice the line's usual spacing at either end (a card's edge in glare, a stain) is not
    one of its characters."""
    while len(runs) > 3:
        centres = np.array([(a + b) / 2 for a, b in runs])
        usual = float(np.median(np.diff(centres)))
        if centres[1] - centres[0] > 2.2 * usual:
            runs = runs[1:]
        elif centres[-1] - centres[-2] > 2.2 * usual:
            runs = runs[:-1]
        else:
            break
    return runs


def _ink_runs(columns: NDArray[np.bool_]) -> list[tuple[int, int]]:
    """(first, last) of each run of inked columns."""
    edges = np.diff(np.concatenate(([0], columns.astype(np.int8), [0])))
    starts, ends = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]
    return [(int(a), int(b) - 1) for a, b in zip(starts, ends, strict=True)]


def _refine_rows(mask: NDArray[np.bool_], top: int, bottom: int) -> tuple[int, int]:
    """The line's cap height exactly: rows near the band with a tenth of its busiest
    row's ink (the band finder may have cut a row or two off either side)."""
    half = (bottom - top) // 2
    low = max(0, top - half)
    counts = mask[low:bottom + half].sum(axis=1)
    busy = np.nonzero(counts > 0.1 * counts.max())[0]
    # The run of busy rows that holds the band's middle.
    middle = (top + bottom) // 2 - low
    start = end = middle
    busy_set = set(busy.tolist())
    while start - 1 in busy_set:
        start -= 1
    while end + 1 in busy_set:
        end += 1
    return low + start, low + end + 1


def _match(cell: Gray, ink: NDArray[np.bool_], templates: NDArray[np.float32],
           allowed: NDArray[np.bool_]) -> tuple[str, float]:
    """The best glyph, and by how much it beats the runner-up (correlation)."""
    if int(ink.sum()) < 3:
        return "<", 1.0
    scores = np.where(allowed, (templates @ _normalise(cell, ink)).max(axis=1), -np.inf)
    ordered = np.sort(scores[np.isfinite(scores)])
    return ALPHABET[int(np.argmax(scores))], float(ordered[-1] - ordered[-2])


def _normalise(cell: Gray, ink: NDArray[np.bool_]) -> Gray:
    """The cell (one cap height tall, one pitch wide) with its ink centred across, as a
    zero-mean unit vector: compared by correlation, whatever the contrast."""
    columns = np.nonzero(ink.any(axis=0))[0]
    left, right = int(columns[0]), int(columns[-1]) + 1
    glyph = cell[:, left:right]
    width = max(cell.shape[1], right - left)
    canvas = np.full((cell.shape[0], width), float(np.percentile(cell, 90)), dtype=np.float32)
    start = (width - (right - left)) // 2
    canvas[:, start:start + right - left] = glyph
    image = Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8))
    vector = 255.0 - np.asarray(image.resize(_CELL, Image.Resampling.BILINEAR),
                                dtype=np.float32).ravel()
    vector -= vector.mean()
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm else vector


def glyph_templates() -> int:
    """How many glyph variants are ready (renders them: the self-test's proof that the
    font and FreeType are there)."""
    return int(_templates(letters_only=False).shape[0] * _templates(letters_only=True).shape[1])


@cache
def _templates(*, letters_only: bool) -> NDArray[np.float32]:
    """Each glyph's variants (character, variant, pixel): sharp and blurred, and moved a
    little up and down. A photo's strokes are thicker or thinner than the font's and its
    line found to a pixel or two: matching a sharp, centred glyph only read O as 0 and
    S as 5 (docs/benchmarks.md); the best variant per glyph is its score."""
    font = ImageFont.truetype(str(resource_path("fonts", "OCRB.otf")), 48)
    tallest = "ABCDEFGHIJKLMNOPQRSTUVWXYZ<" if letters_only else ALPHABET
    cap_top = min(font.getbbox(char, anchor="ls")[1] for char in tallest)
    margin = round(-cap_top * _MARGIN)
    advance = round(font.getlength("H"))
    glyphs = []
    for char in ALPHABET:
        variants = []
        for blur in _TEMPLATE_BLURS:
            for shift in _TEMPLATE_SHIFTS:
                canvas = Image.new("L", (advance, 100), 255)
                ImageDraw.Draw(canvas).text((0, 80 + shift), char, font=font, fill=0,
                                            anchor="ls")
                if blur:
                    canvas = canvas.filter(ImageFilter.GaussianBlur(blur))
                gray = np.asarray(canvas, dtype=np.float32)[80 + cap_top - margin:
                                                            80 + margin]
                variants.append(_normalise(gray, gray < 128))
        glyphs.append(np.stack(variants))
    return np.stack(glyphs)
