"""Small statistics for timings: percentiles, medians of repeated calls, latency summaries.

Pure functions with no I/O, so the report numbers can be checked on known inputs.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

DEFAULT_WARMUP_CALLS = 3


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between closest ranks.

    Matches numpy's default ("linear") method. Raises ValueError for no values.
    """
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile must be between 0 and 100, got {q}")
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    fraction = position - lower
    return ordered[lower] + (ordered[upper] - ordered[lower]) * fraction


@dataclass(frozen=True)
class LatencySummary:
    """Latencies in milliseconds; all NaN when there were none."""

    count: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize_latencies(seconds: Sequence[float]) -> LatencySummary:
    """p50/p95/p99/max/mean in milliseconds of latencies given in seconds."""
    if not seconds:
        nan = float("nan")
        return LatencySummary(0, nan, nan, nan, nan, nan)
    ms = [1000.0 * s for s in seconds]
    return LatencySummary(
        count=len(ms),
        p50_ms=percentile(ms, 50),
        p95_ms=percentile(ms, 95),
        p99_ms=percentile(ms, 99),
        max_ms=max(ms),
        mean_ms=statistics.fmean(ms),
    )


def time_calls(
    function: Callable[[], Any], repeats: int, *, warmup: int = DEFAULT_WARMUP_CALLS
) -> list[float]:
    """Seconds taken by each of `repeats` calls, after `warmup` untimed calls."""
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    for _ in range(warmup):
        function()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        samples.append(time.perf_counter() - started)
    return samples


def median_ms(
    function: Callable[[], Any], repeats: int, *, warmup: int = DEFAULT_WARMUP_CALLS
) -> float:
    """Median milliseconds of one call of `function`."""
    return 1000.0 * statistics.median(time_calls(function, repeats, warmup=warmup))


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, NaN instead of a ZeroDivisionError."""
    if denominator == 0 or math.isnan(denominator):
        return float("nan")
    return numerator / denominator
