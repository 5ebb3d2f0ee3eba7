"""Generated ID-document photos for the retake checks: a card with print, fine lines and a
portrait on a table, then made blurred, dark, glared or far away (numpy only)."""

from __future__ import annotations

import numpy as np

from kycdesk.core.photo_quality import Grey


def id_photo(width: int = 1000, height: int = 750, *, card_share: float = 0.7,
             seed: int = 1) -> Grey:
    rng = np.random.default_rng(seed)
    picture = np.full((height, width), 95.0)
    picture += rng.normal(0, 3, picture.shape)  # a table's texture, a sensor's noise
    card_w = int(width * card_share ** 0.5)
    card_h = int(card_w * 0.63)
    top, left = (height - card_h) // 2, (width - card_w) // 2
    card = np.full((card_h, card_w), 215.0)
    ys, xs = np.mgrid[0:card_h, 0:card_w]
    card -= 18 * (np.sin(xs / 3.1 + 6 * np.sin(ys / 40)) > 0.6)  # guilloche lines
    face = (slice(card_h // 6, card_h * 5 // 6), slice(card_w // 20, card_w // 3))
    card[face] = 120 + 40 * np.sin(ys[face] / 9)
    line_h = max(3, card_h // 30)
    for row in range(6):  # lines of print
        y = card_h // 5 + row * card_h // 9
        x = card_w * 2 // 5
        while x < card_w * 19 // 20:
            length = int(rng.integers(line_h, line_h * 4))
            card[y:y + line_h, x:x + length] = 30
            x += length + line_h
    picture[top:top + card_h, left:left + card_w] = card
    result: Grey = np.clip(picture, 0, 255).astype(np.uint8)
    return result


def blurred(grey: Grey, sigma: float) -> Grey:
    radius = int(3 * sigma)
    xs = np.arange(-radius, radius + 1)
    kernel = np.exp(-xs ** 2 / (2 * sigma ** 2))
    kernel /= kernel.sum()
    out = grey.astype(np.float64)
    for axis in (0, 1):
        out = np.apply_along_axis(lambda line: np.convolve(line, kernel, mode="same"),
                                  axis, np.pad(out, [(radius, radius) if a == axis else (0, 0)
                                                     for a in (0, 1)], mode="edge"))
        out = out[radius:-radius, :] if axis == 0 else out[:, radius:-radius]
    return np.clip(out, 0, 255).astype(np.uint8)


def darkened(grey: Grey, factor: float) -> Grey:
    return (grey.astype(np.float64) * factor).astype(np.uint8)


def glared(grey: Grey, share_of_card: float) -> Grey:
    """A flash spot: a clipped white disc over part of the card."""
    height, width = grey.shape
    out = grey.copy()
    ys, xs = np.mgrid[0:height, 0:width]
    area = share_of_card * width * height * 0.7  # the card is ~70 % of the frame
    radius = (area / np.pi) ** 0.5
    out[(ys - height // 2) ** 2 + (xs - width * 0.6) ** 2 < radius ** 2] = 255
    return out
