"""Is this ID photo worth a retake? Blur, glare, darkness and "document too small".

Measured on a downscaled grey picture (about 1,000 px on the long side: what a retake
decision needs, and < 100 ms from a 12 MP JPEG, docs/benchmarks.md), with numpy only.
Every check errs towards silence: a suggestion the verifier learns to ignore is worse than
none, so each threshold sits well past what the generated sharp / bright / well-framed
pictures in tests/test_photo_quality.py measure (the margins are written there).

- **Blur**: variance of the Laplacian inside the document area — edges of print and
  guilloches give a sharp photo hundreds; a Gaussian blur of a few pixels leaves tens.
- **Glare**: the share of clipped highlights (grey >= 250) inside the document area.
- **Darkness**: the mean grey, and the 95th percentile (a dark photo has no bright part).
- **Too small**: the document area is the box holding the central 96 % of strong edges;
  a document far away leaves that box a small share of the frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

Grey = npt.NDArray[np.uint8]

BLUR_VARIANCE = 60.0        # below: blurred (sharp generated IDs measure > 400)
GLARE_SHARE = 0.04          # above: glare (a matt card: 0; a flash spot on a card: > 0.08)
CLIPPED = 250
DARK_MEAN = 45.0            # below, and the bright part below DARK_P95: too dark
DARK_P95 = 90.0
SMALL_SHARE = 0.18          # document box below this share of the frame: too small
EDGE_STRENGTH = 40          # grey levels between neighbours that count as an edge
EDGE_TAIL = 0.02            # the edges outside the box's 2 %..98 % are clutter


class Problem(StrEnum):
    BLURRED = "blurred"
    GLARE = "glare"
    DARK = "dark"
    SMALL = "small"


SUGGESTION = {
    Problem.BLURRED: "This photo looks blurred — retake?",
    Problem.GLARE: "Light glares on the document — tilt it and retake?",
    Problem.DARK: "This photo is too dark — more light and retake?",
    Problem.SMALL: "The document is small in the photo — move closer and retake?",
}


@dataclass(frozen=True)
class Quality:
    sharpness: float          # variance of the Laplacian in the document area
    glare_share: float        # clipped highlights in the document area, 0..1
    mean_grey: float
    p95_grey: float
    document_share: float     # the document box's share of the frame, 0..1
    problems: tuple[Problem, ...]

    def suggestions(self) -> list[str]:
        return [SUGGESTION[problem] for problem in self.problems]


def assess(grey: Grey) -> Quality:
    if grey.ndim != 2 or min(grey.shape) < 16:
        raise ValueError(f"a grey picture of at least 16x16 is needed, not {grey.shape}")
    top, bottom, left, right = _document_box(grey)
    area = grey[top:bottom, left:right]
    sharpness = _laplacian_variance(area)
    glare = float(np.count_nonzero(area >= CLIPPED)) / area.size
    mean = float(grey.mean())
    p95 = float(np.percentile(grey, 95))
    share = (bottom - top) * (right - left) / grey.size
    problems = []
    if mean < DARK_MEAN and p95 < DARK_P95:
        problems.append(Problem.DARK)  # first: a dark photo also looks blurred
    elif sharpness < BLUR_VARIANCE:
        problems.append(Problem.BLURRED)
    if glare > GLARE_SHARE:
        problems.append(Problem.GLARE)
    if share < SMALL_SHARE:
        problems.append(Problem.SMALL)
    return Quality(sharpness, glare, mean, p95, share, tuple(problems))


def _laplacian_variance(grey: Grey) -> float:
    g = grey.astype(np.int16)
    if min(g.shape) < 3:
        return 0.0
    lap = (g[1:-1, :-2] + g[1:-1, 2:] + g[:-2, 1:-1] + g[2:, 1:-1] - 4 * g[1:-1, 1:-1])
    return float(lap.var())


def _document_box(grey: Grey) -> tuple[int, int, int, int]:
    """top, bottom, left, right of the region holding the central strong edges (the
    whole frame when there are too few edges to say)."""
    g = grey.astype(np.int16)
    across = np.abs(np.diff(g, axis=1))[:-1, :] > EDGE_STRENGTH
    down = np.abs(np.diff(g, axis=0))[:, :-1] > EDGE_STRENGTH
    edges = across | down
    rows = edges.sum(axis=1)
    cols = edges.sum(axis=0)
    total = int(rows.sum())
    height, width = grey.shape
    if total < 50:
        return 0, height, 0, width
    top, bottom = _central(rows, total)
    left, right = _central(cols, total)
    return top, max(bottom, top + 2), left, max(right, left + 2)


def _central(counts: npt.NDArray[np.int_], total: int) -> tuple[int, int]:
    cumulative = np.cumsum(counts)
    low = int(np.searchsorted(cumulative, total * EDGE_TAIL))
    high = int(np.searchsorted(cumulative, total * (1 - EDGE_TAIL))) + 1
    return low, high
