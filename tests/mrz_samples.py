"""Generated ID document photos for the MRZ reader's tests and benchmark: random valid
identities laid out as TD1, TD2 or TD3, rendered in OCR-B, then distorted as a hand-held
photo is (turn ±10°, perspective, blur, glare, JPEG quality 60)."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from datetime import date, timedelta

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from kycdesk.core.mrz import check_digit
from kycdesk.resources import resource_path

_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_STATES = ("UTO", "GBR", "FRA", "DEU", "D<<", "NLD", "ESP", "ITA", "POL", "IRL")


@dataclass(frozen=True)
class Sample:
    lines: tuple[str, ...]
    truth: dict[str, str]  # the values a reader must give where it offers them
    jpeg: bytes


def _name(rng: random.Random, low: int, high: int) -> str:
    return "".join(rng.choice(_LETTERS) for _ in range(rng.randint(low, high)))


def identity(rng: random.Random, kind: str) -> tuple[tuple[str, ...], dict[str, str]]:
    born = date(1940, 1, 1) + timedelta(days=rng.randrange(60 * 365))
    expires = date(2025, 1, 1) + timedelta(days=rng.randrange(12 * 365))
    number = "".join(rng.choice(_LETTERS + "0123456789") for _ in range(9))
    state, nationality = rng.choice(_STATES), rng.choice(_STATES)
    sex = rng.choice("MF<")
    names = f"{_name(rng, 3, 10)}<<{_name(rng, 3, 8)}<{_name(rng, 2, 7)}"
    b, e = born.strftime("%y%m%d"), expires.strftime("%y%m%d")
    bd, ed, nd = check_digit(b), check_digit(e), check_digit(number)
    if kind == "TD3":
        personal = "".join(rng.choice(_LETTERS + "0123456789") for _ in range(8)).ljust(14, "<")
        top = f"P<{state}{names}".ljust(44, "<")[:44]
        bottom = f"{number}{nd}{nationality}{b}{bd}{sex}{e}{ed}{personal}{check_digit(personal)}"
        bottom += check_digit(bottom[0:10] + bottom[13:20] + bottom[21:43])
        lines: tuple[str, ...] = (top, bottom)
    elif kind == "TD2":
        top = f"I<{state}{names}".ljust(36, "<")[:36]
        bottom = f"{number}{nd}{nationality}{b}{bd}{sex}{e}{ed}<<<<<<<"
        bottom += check_digit(bottom[0:10] + bottom[13:20] + bottom[21:35])
        lines = (top, bottom)
    else:
        top = f"I<{state}{number}{nd}".ljust(30, "<")
        middle = f"{b}{bd}{sex}{e}{ed}{nationality}".ljust(29, "<")
        middle += check_digit(top[5:30] + middle[0:7] + middle[8:15] + middle[18:29])
        lines = (top, middle, names.ljust(30, "<")[:30])
    surname, _, given = names.partition("<<")
    truth = {"document_number": number, "birth_date": born.isoformat(),
             "expiry_date": expires.isoformat(),
             # No digit covers these: the reader's other guards must (benchmarks count them).
             "surname": surname, "given_names": given.replace("<", " "),
             "issuing_state": state.strip("<"), "nationality": nationality.strip("<")}
    return lines, truth


def render(lines: tuple[str, ...], rng: random.Random, *, width: int = 1600,
           distort: bool = True) -> bytes:
    """A card-like page, the zone at its bottom, photographed on a darker desk."""
    length = len(lines[0])
    font = ImageFont.truetype(str(resource_path("fonts", "OCRB.otf")), 100)
    font_px = int(100 * width * 0.88 / (font.getlength("<") * length))
    font = ImageFont.truetype(str(resource_path("fonts", "OCRB.otf")), font_px)
    height = int(width * (0.7 if length == 44 else 0.63))
    card = Image.new("L", (width, height), rng.randint(215, 250))
    draw = ImageDraw.Draw(card)
    small = ImageFont.truetype(str(resource_path("fonts", "OCRB.otf")), font_px // 2)
    draw.rectangle((40, 40, width // 4, height // 2), fill=rng.randint(120, 180))  # photo
    for row in range(5):
        draw.text((width // 4 + 40, 50 + row * font_px), _name(rng, 5, 14), font=small,
                  fill=rng.randint(40, 90))
    pitch = font.getlength("<")
    y = height - int(font_px * 1.25) * len(lines) - font_px // 3
    for line in lines:
        x = (width - pitch * length) / 2
        draw.text((x, y), line, font=font, fill=rng.randint(0, 50))
        y += int(font_px * 1.25)
    image = Image.new("L", (int(width * 1.3), int(height * 1.4)), rng.randint(60, 120))
    image.paste(card, (int(width * 0.15), int(height * 0.2)))
    if distort:
        image = _distort(image, rng)
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=60)
    return out.getvalue()


def _distort(image: Image.Image, rng: random.Random) -> Image.Image:
    w, h = image.size
    k = 0.04  # corners moved by up to 4 % of the side: a phone not quite parallel
    quad = [(rng.uniform(0, k) * w, rng.uniform(0, k) * h),
            (rng.uniform(0, k) * w, h - rng.uniform(0, k) * h),
            (w - rng.uniform(0, k) * w, h - rng.uniform(0, k) * h),
            (w - rng.uniform(0, k) * w, rng.uniform(0, k) * h)]
    image = image.transform((w, h), Image.Transform.QUAD,
                            tuple(c for point in quad for c in point),
                            Image.Resampling.BILINEAR, fillcolor=90)
    image = image.rotate(rng.uniform(-10, 10), Image.Resampling.BILINEAR, expand=True,
                         fillcolor=90)
    glare = Image.new("L", image.size, 0)
    gx, gy = rng.randrange(image.width), rng.randrange(image.height)
    radius = rng.randint(image.width // 10, image.width // 4)
    ImageDraw.Draw(glare).ellipse((gx - radius, gy - radius, gx + radius, gy + radius),
                                  fill=rng.randint(60, 130))
    glare = glare.filter(ImageFilter.GaussianBlur(radius // 2))
    image = Image.fromarray(__import__("numpy").clip(
        __import__("numpy").asarray(image, dtype="int16")
        + __import__("numpy").asarray(glare, dtype="int16"), 0, 255).astype("uint8"))
    return image.filter(ImageFilter.GaussianBlur(rng.uniform(0.4, 1.6)))


def samples(count: int, seed: int, *, width: int = 1600) -> list[Sample]:
    rng = random.Random(seed)
    made = []
    for index in range(count):
        kind = ("TD3", "TD2", "TD1")[index % 3]
        lines, truth = identity(rng, kind)
        made.append(Sample(lines, truth, render(lines, rng, width=width)))
    return made
