"""PDF417 barcodes on generated ID card backs (AAMVA payloads, US and Canadian layouts,
pdf417gen symbols; perspective, turned ±10°, glare, blur, JPEG quality 60) read by
`kycdesk.documents.pdf417_reader` (zxing-cpp, straightened first).

    .venv/bin/python -m benchmarks.pdf417_accuracy [--count 40] [--seed 1] [--width 1600]

Prints the share of card backs whose every field came out right (target >= 95 %), the
values given that are wrong (target 0), and the time per photo (decode + read).
"""

from __future__ import annotations

import argparse
import io
import random
import time

from PIL import Image

from benchmarks.common import header, summary_ms, verdict
from kycdesk.documents.pdf417_reader import BarcodeNotFoundError, read_image
from tests.pdf417_samples import identity, payload, render


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--width", type=int, default=1600, help="card width in pixels")
    args = parser.parse_args()
    header(f"PDF417 from generated card backs: {args.count} cards, {args.width} px wide")
    rng = random.Random(args.seed)
    read = wrong = not_found = 0
    times: list[float] = []
    for index in range(args.count):
        person = identity(rng)
        photo = render(payload(person, canadian=index % 2 == 1), rng, width=args.width)
        started = time.perf_counter()
        try:
            with Image.open(io.BytesIO(photo)) as opened:
                fields = read_image(opened.convert("L")).fields
        except BarcodeNotFoundError:
            not_found += 1
            times.append(time.perf_counter() - started)
            continue
        times.append(time.perf_counter() - started)
        wrong_here = sum(1 for k, v in person.items() if k in fields and fields[k] != v)
        wrong += wrong_here
        read += wrong_here == 0 and all(k in fields for k in person)
    print(f"   barcode not found: {not_found}")
    print(f"   time per photo (decode + read): {summary_ms(times)}")
    ok = verdict("read whole", 100 * read / args.count, 95, "%", lower_is_better=False)
    ok &= verdict("wrong values given", wrong, 0, "")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
