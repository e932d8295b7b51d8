"""Aggregate one metric over independently trained runs (seeds): mean and Student-t interval.

``mean ± t₀.₉₇₅,ₙ₋₁ · s / √n`` with ``s`` the sample standard deviation over the ``n`` seeds. This
is the interval to compare training setups with; a single run's interval only covers sampling.

A bounded metric (precision, recall, coverage, the accepted fraction: [0, 1]; a count of modes:
≥ 0) can get a t-interval that leaves its range with few seeds and a large spread. With
``bounds`` (e.g. ``metric_range`` of the metric's name) the interval is clipped to the range
and ``clipped`` says so: a clipped interval is no longer a 95 % t-interval, only its part inside
the possible values (with 5 seeds no interval method that respects the bounds is exact either).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from gan_regularizers.errors import MetricError


@dataclass
class SeedSummary:
    """Mean over seeds, its t-interval (``None`` for one seed), the standard deviation, ``n``."""

    mean: float
    low: float | None
    high: float | None
    sd: float | None
    n: int
    values: list[float] = field(default_factory=list)
    confidence: float = 0.95
    clipped: bool = False

    def overlaps(self, other: SeedSummary) -> bool:
        """Whether the two intervals overlap (then no difference is claimed)."""
        if None in (self.low, self.high, other.low, other.high):
            return True
        return not (self.high < other.low or other.high < self.low)  # type: ignore[operator]

    def to_json(self) -> dict[str, object]:
        return dict(self.__dict__)


def t_quantile(probability: float, degrees_of_freedom: int) -> float:
    """Student-t quantile (scipy)."""
    from scipy import stats

    return float(stats.t.ppf(probability, degrees_of_freedom))


BOUNDED = {"precision": (0.0, 1.0), "recall": (0.0, 1.0), "coverage": (0.0, 1.0),
           "modes-accepted": (0.0, 1.0), "modes": (0.0, None), "density": (0.0, None),
           "modes-kl": (0.0, None), "lpips-div": (0.0, None)}  # fmt: skip


def metric_range(name: str) -> tuple[float | None, float | None]:
    """The possible values of a built-in metric by result name (Fréchet distances: ≥ 0)."""
    if name in BOUNDED:
        return BOUNDED[name]
    if name == "fid" or name.startswith("fd"):
        return (0.0, None)
    return (None, None)  # KID (unbiased, can be < 0) and unknown metrics


def seed_summary(
    values: Sequence[float],
    confidence: float = 0.95,
    bounds: tuple[float | None, float | None] | None = None,
) -> SeedSummary:
    """Mean and two-sided Student-t ``confidence`` interval of one metric over seeds.

    ``bounds``: ``(lowest, highest)`` possible value (``None``: unbounded); the interval is
    clipped to them and ``clipped`` is set when that changed it.
    """
    data = [float(v) for v in values]
    if not data:
        raise MetricError("seed_summary needs at least one value (one per trained seed).")
    if not 0.0 < confidence < 1.0:
        raise MetricError(f"confidence must be in (0, 1), got {confidence}.")
    mean = statistics.fmean(data)
    if len(data) < 2:
        return SeedSummary(mean, None, None, None, 1, data, confidence)
    sd = statistics.stdev(data)
    half = t_quantile(0.5 + confidence / 2, len(data) - 1) * sd / math.sqrt(len(data))
    low, high = mean - half, mean + half
    lowest, highest = bounds or (None, None)
    clipped_low = max(low, lowest) if lowest is not None else low
    clipped_high = min(high, highest) if highest is not None else high
    clipped = (clipped_low, clipped_high) != (low, high)
    summary = SeedSummary(mean, clipped_low, clipped_high, sd, len(data), data, confidence)
    summary.clipped = clipped
    return summary
