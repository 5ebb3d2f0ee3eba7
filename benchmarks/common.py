"""Shared helpers: a headless Qt application, percentiles, uniform figure lines."""

from __future__ import annotations

import os
import platform
import statistics
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def qt_app() -> object:
    from PySide6.QtGui import QGuiApplication

    return QGuiApplication.instance() or QGuiApplication(sys.argv[:1])


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary_ms(samples_s: list[float]) -> str:
    ms = [s * 1000 for s in samples_s]
    return (f"n={len(ms)} p50={percentile(ms, 50):.3f} ms p99={percentile(ms, 99):.3f} ms "
            f"max={max(ms):.3f} ms mean={statistics.fmean(ms):.3f} ms")


def header(title: str) -> None:
    print(f"== {title}")
    print(f"   machine: {platform.machine()} {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, {platform.system()}")


def verdict(name: str, value: float, target: float, unit: str, *, lower_is_better: bool = True
            ) -> bool:
    ok = value <= target if lower_is_better else value >= target
    sign = "<=" if lower_is_better else ">="
    print(f"   {name}: {value:.3f} {unit} (target {sign} {target} {unit}) "
          f"{'OK' if ok else 'MISSED'}")
    return ok
