"""Exponential backoff with jitter, honouring the server's Retry-After."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    base_s: float = 5.0
    cap_s: float = 3600.0
    storage_full_min_s: float = 900.0  # 507: the server needs a person, not a retry storm
    after_progress_s: tuple[float, float] = (2.0, 8.0)  # a cut after progress: soon again

    def delay(self, attempts: int, *, retry_after: float | None = None,
              status: int | None = None, rng: random.Random | None = None) -> float:
        """Seconds to wait after the `attempts`-th consecutive failure (1-based)."""
        rng = rng or random.Random()
        exponential = min(self.cap_s, self.base_s * float(2 ** max(0, attempts - 1)))
        delay = exponential * rng.uniform(0.5, 1.0)  # jitter: devices do not stampede
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.cap_s))
        if status == 507:
            delay = max(delay, self.storage_full_min_s)
        return delay

    def after_progress(self, *, rng: random.Random | None = None) -> float:
        """An attempt that moved bytes forward and then lost the link: retry in a few
        seconds (jittered); the exponential backoff starts over."""
        low, high = self.after_progress_s
        return (rng or random.Random()).uniform(low, high)
