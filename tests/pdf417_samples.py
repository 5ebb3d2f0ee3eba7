"""Generated ID card backs for the PDF417 reader's tests: an AAMVA payload (version 10,
a US or a Canadian card) encoded with `pdf417gen` (MIT), drawn on a card, then distorted
as the MRZ samples are (perspective, turn ±10°, glare, blur, JPEG quality 60)."""

from __future__ import annotations

import io
import random
from datetime import date, timedelta

import pdf417gen
from PIL import Image, ImageDraw

from tests.mrz_samples import _distort

_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def payload(fields: dict[str, str], *, canadian: bool = False, version: int = 10) -> str:
    """An AAMVA card's barcode text; dates in the layout of its country."""
    def when(iso: str) -> str:
        day = date.fromisoformat(iso)
        return day.strftime("%Y%m%d") if canadian else day.strftime("%m%d%Y")

    lines = [f"DAQ{fields['document_number']}", f"DCS{fields['surname']}",
             f"DAC{fields['given_names'].split(' ')[0]}",
             f"DAD{' '.join(fields['given_names'].split(' ')[1:]) or 'NONE'}",
             f"DBB{when(fields['birth_date'])}", f"DBA{when(fields['expiry_date'])}",
             f"DBC{ {'M': '1', 'F': '2'}.get(fields['sex'], '9') }",
             "DAYBRO", "DAU070 IN", f"DAG{random.Random(1).randint(1, 999)} MAIN ST",
             "DAIANYTOWN", "DAJVA", "DAK123450000", f"DCG{'CAN' if canadian else 'USA'}",
             "DDEN", "DDFN", "DDGN"]
    body = "DL" + "\n".join(lines) + "\r"
    issuer = "636012" if canadian else "636000"
    header = f"@\n\x1e\rANSI {issuer}{version:02d}0001DL00310{len(body):03d}"
    return header + body


def identity(rng: random.Random) -> dict[str, str]:
    born = date(1945, 1, 1) + timedelta(days=rng.randrange(55 * 365))
    expires = date(2026, 1, 1) + timedelta(days=rng.randrange(8 * 365))
    return {
        "surname": "".join(rng.choice(_LETTERS) for _ in range(rng.randint(3, 10))),
        "given_names": " ".join("".join(rng.choice(_LETTERS) for _ in range(rng.randint(3, 8)))
                                for _ in range(rng.randint(1, 2))),
        "document_number": "".join(rng.choice("0123456789") for _ in range(9)),
        "birth_date": born.isoformat(), "expiry_date": expires.isoformat(),
        "sex": rng.choice("MF"),
    }


def render(text: str, rng: random.Random, *, distort: bool = True, width: int = 1600) -> bytes:
    codes = pdf417gen.encode(text, columns=12, security_level=5)
    symbol = pdf417gen.render_image(codes, scale=3, ratio=3, padding=0).convert("L")
    symbol = symbol.resize((int(width * 0.8), int(symbol.height * width * 0.8 / symbol.width)),
                           Image.Resampling.NEAREST)
    height = int(width * 0.63)
    card = Image.new("L", (width, height), rng.randint(215, 250))
    draw = ImageDraw.Draw(card)
    draw.rectangle((40, 30, width - 40, 90), fill=rng.randint(120, 180))  # a stripe
    card.paste(symbol, ((width - symbol.width) // 2, height - symbol.height - 60))
    image = Image.new("L", (int(width * 1.3), int(height * 1.4)), rng.randint(60, 120))
    image.paste(card, (int(width * 0.15), int(height * 0.2)))
    if distort:
        image = _distort(image, rng)
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=60)
    return out.getvalue()
