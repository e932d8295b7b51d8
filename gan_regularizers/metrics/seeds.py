"""Aggregate one metric over independently trained runs (seeds): mean and Student-t interval.

``mean ± t₀.₉₇₅,ₙ₋₁ · s / √n`` with ``s`` the sample standard deviation over the ``n`` seeds. This
is the interval to compare training setups with; a single run's interval only covers sampling.
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


def seed_summary(values: Sequence[float], confidence: float = 0.95) -> SeedSummary:
    """Mean and two-sided Student-t ``confidence`` interval of one metric over seeds."""
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
    return SeedSummary(mean, mean - half, mean + half, sd, len(data), data, confidence)
