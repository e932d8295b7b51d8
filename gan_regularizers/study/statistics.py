"""The statistics of a study: t-intervals over seeds, paired t-tests, Holm's correction, effect
sizes, bounded intervals and Kendall's τ between feature spaces.

The unit is the training seed. A comparison of ``setup`` with ``baseline`` takes the per-seed
differences ``d_i = setup_i − baseline_i`` over the seeds both have (same initialisation, data
order and latents), their mean ``d̄``, the 95 % paired interval ``d̄ ± t₀.₉₇₅,ₙ₋₁ · s_d / √n``,
the two-sided p-value of ``t = d̄ / (s_d / √n)`` with ``n − 1`` degrees of freedom, and the
standardised effect ``d_z = d̄ / s_d``. Within a family of ``m`` tests, Holm's step-down
adjusted p-values are ``p̃_(i) = max_{j ≤ i} min(1, (m − j + 1) · p_(j))`` over the sorted
p-values; a verdict other than "no detectable difference" needs ``p̃ ≤ 0.05``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

ALPHA = 0.05
LOWER_IS_BETTER_PREFIXES = ("fd", "fid", "kid", "mmd")
BOUNDED = {"precision", "recall", "coverage", "modes-accepted"}


def lower_is_better(metric: str, extra: Sequence[str] = ()) -> bool:
    """Whether a lower value of ``metric`` is better (distances; ``extra`` names more)."""
    return metric in extra or metric.split(":")[0].startswith(LOWER_IS_BETTER_PREFIXES)


def is_bounded(metric: str, extra: Sequence[str] = ()) -> bool:
    """Whether ``metric`` lies in [0, 1] (fractions; ``extra`` names more)."""
    base = metric.split(":")[0]
    return metric in extra or base in BOUNDED or "fraction" in base


def t_interval(
    values: Sequence[float], confidence: float = 0.95
) -> tuple[float, float | None, float | None]:
    """Mean and two-sided Student-t interval over seeds (``metrics.seed_summary``)."""
    from gan_regularizers.metrics import seed_summary

    summary = seed_summary(values, confidence)
    return summary.mean, summary.low, summary.high


def clip(low: float | None, high: float | None, lo: float, hi: float) -> tuple:
    """The interval cut to ``[lo, hi]`` (a bounded metric's range); ``None`` stays ``None``."""
    if low is None or high is None:
        return low, high
    return max(low, lo), min(high, hi)


def paired_p_value(diffs: Sequence[float]) -> float:
    """Two-sided one-sample t-test of the paired differences against 0.

    Constant differences have no spread: p is 1 when they are all 0, else 0.
    """
    if max(diffs) == min(diffs):
        return 1.0 if diffs[0] == 0 else 0.0
    from scipy import stats

    n = len(diffs)
    t = statistics.fmean(diffs) / (statistics.stdev(diffs) / math.sqrt(n))
    return float(2 * stats.t.sf(abs(t), n - 1))


@dataclass(frozen=True)
class PairedTest:
    """The paired comparison of one metric at one length (see the module doc)."""

    n: int
    mean_difference: float
    low: float | None
    high: float | None
    p: float | None
    effect_size: float | None  # d_z = mean / sd of the differences


def paired_test(diffs: Sequence[float]) -> PairedTest:
    """Mean difference, t-interval, p-value and ``d_z`` of the paired differences."""
    mean, low, high = t_interval(diffs)
    if len(diffs) < 2:
        return PairedTest(len(diffs), mean, None, None, None, None)
    sd = statistics.stdev(diffs)
    effect = mean / sd if sd > 0 else (0.0 if mean == 0 else math.copysign(math.inf, mean))
    return PairedTest(len(diffs), mean, low, high, paired_p_value(diffs), effect)


def holm_adjusted(p_values: dict[Hashable, float]) -> dict[Hashable, float]:
    """Holm's step-down adjusted p-values of one family (module doc)."""
    ordered = sorted(p_values, key=p_values.__getitem__)
    adjusted: dict[Hashable, float] = {}
    running = 0.0
    for rank, key in enumerate(ordered):
        running = max(running, min(1.0, (len(ordered) - rank) * p_values[key]))
        adjusted[key] = running
    return adjusted


def holm(p_values: dict[Hashable, float], alpha: float = ALPHA) -> set[Hashable]:
    """The keys whose hypotheses Holm's step-down procedure rejects at family-wise ``alpha``."""
    rejected: set[Hashable] = set()
    ordered = sorted(p_values, key=p_values.__getitem__)
    for rank, key in enumerate(ordered):
        if p_values[key] > alpha / (len(ordered) - rank):
            break
        rejected.add(key)
    return rejected


def verdict(mean_difference: float, p_holm: float | None, lower: bool) -> str:
    """ "better", "worse" or "no detectable difference", from the Holm-adjusted p-value only."""
    if p_holm is None or p_holm > ALPHA or mean_difference == 0:
        return "no detectable difference"
    return "better" if (mean_difference < 0) == lower else "worse"


def kendall_tau(first: Sequence[float], second: Sequence[float]) -> float:
    """Kendall's τ-b between two orderings of the same items (ties counted as in τ-b).

    ``τ_b = (C − D) / √((C + D + T_x)(C + D + T_y))`` over the item pairs: ``C`` concordant,
    ``D`` discordant, ``T_x`` tied in ``first`` only, ``T_y`` tied in ``second`` only.
    """
    concordant = discordant = ties_first = ties_second = 0
    for i in range(len(first)):
        for j in range(i + 1, len(first)):
            a, b = first[i] - first[j], second[i] - second[j]
            if a == 0 and b == 0:
                continue
            if a == 0:
                ties_first += 1
            elif b == 0:
                ties_second += 1
            elif (a > 0) == (b > 0):
                concordant += 1
            else:
                discordant += 1
    pairs = concordant + discordant
    denominator = math.sqrt((pairs + ties_first) * (pairs + ties_second))
    return (concordant - discordant) / denominator if denominator else math.nan
