"""Percentiles, ratios and verdicts: the arithmetic every scenario shares."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50 / p90 / p99 / max of durations given in seconds, in milliseconds."""
    return {
        "count": len(seconds),
        "p50_ms": round(percentile(seconds, 50) * 1000, 2),
        "p90_ms": round(percentile(seconds, 90) * 1000, 2),
        "p99_ms": round(percentile(seconds, 99) * 1000, 2),
        "max_ms": round(max(seconds, default=math.nan) * 1000, 2),
    }


def ratio(value: float, baseline: float) -> float:
    """value / baseline, NaN when the baseline is zero or missing."""
    if not baseline or math.isnan(baseline):
        return math.nan
    return value / baseline


@dataclass(frozen=True, kw_only=True)
class Check:
    """One target of a scenario: the measured figure beside its baseline, and whether it holds.

    `kind` says how `value` compares with `limit`: ">=" or "<=". `value` is in `unit`:
    "share" (a ratio shown as a percentage), "times" (a ratio shown as N x), or an
    absolute unit such as "ms" or "MiB". `measured` and `baseline` are the raw
    figures, in `measured_unit`.
    """

    scenario: str
    metric: str
    measured: float
    baseline: float | None
    baseline_name: str
    value: float
    unit: str
    kind: str
    limit: float
    measured_unit: str = ""
    note: str = ""

    @property
    def passed(self) -> bool:
        """True when the value is on the right side of the limit (NaN never passes)."""
        if math.isnan(self.value):
            return False
        return self.value >= self.limit if self.kind == ">=" else self.value <= self.limit

    @property
    def miss_by(self) -> str:
        """How far from the target a miss is, in the check's unit; empty when it passes."""
        if self.passed or math.isnan(self.value):
            return ""
        gap = abs(self.value - self.limit)
        if self.unit == "share":
            return f"{gap * 100:.0f} points"
        if self.unit == "times":
            return f"{gap:.2f}x"
        return f"{gap:.1f} {self.unit}"

    def as_json(self) -> dict[str, Any]:
        """The check with its verdict, for latest.json."""
        data = asdict(self)
        data.update(passed=self.passed, miss_by=self.miss_by)
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in data.items()}
