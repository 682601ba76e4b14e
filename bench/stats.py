"""Order statistics for benchmark samples: percentiles and a summary that shows the spread.

A single number hides machine noise, so every timed figure is reported with its sample count,
its extremes and its interquartile range.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation between closest ranks (numpy's default)."""
    if not samples:
        raise ValueError("no samples")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0-100, not {q}")
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Summary:
    """n, extremes, mean and the percentiles of one series (in the series' unit)."""

    n: int
    min: float
    p25: float
    p50: float
    p75: float
    p90: float
    p99: float
    max: float
    mean: float
    stdev: float

    @property
    def iqr(self) -> float:
        return self.p75 - self.p25

    def as_dict(self) -> dict[str, float | int]:
        return {**asdict(self), "iqr": self.iqr}

    def scaled(self, factor: float) -> Summary:
        """The same summary in another unit (e.g. seconds to milliseconds)."""
        values = {k: v * factor for k, v in asdict(self).items() if k != "n"}
        return Summary(n=self.n, **values)


def summarize(samples: Sequence[float]) -> Summary:
    if not samples:
        raise ValueError("no samples")
    return Summary(
        n=len(samples),
        min=min(samples),
        p25=percentile(samples, 25),
        p50=percentile(samples, 50),
        p75=percentile(samples, 75),
        p90=percentile(samples, 90),
        p99=percentile(samples, 99),
        max=max(samples),
        mean=statistics.fmean(samples),
        stdev=statistics.stdev(samples) if len(samples) > 1 else 0.0,
    )
