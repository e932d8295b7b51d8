"""The statistics of studies (gan_regularizers.study.statistics): the paired t-test, Holm's
step-down correction, the verdicts, bounded intervals and Kendall's τ, checked by hand and against
a float64 integration of the t density and scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("scipy")
from gan_regularizers.study import statistics as st


def _t_two_sided_p(t: float, df: int) -> float:
    """2·P(T > |t|) by integrating the Student-t density in float64 (trapezoid rule)."""
    x = np.linspace(abs(t), abs(t) + 400.0, 4_000_001)
    log_c = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    density = np.exp(log_c - (df + 1) / 2 * np.log1p(x * x / df))
    return float(2 * np.trapezoid(density, x))


def test_paired_p_value_matches_the_t_density() -> None:
    diffs = [1.0, 2.0, 3.0, 4.0, 5.0]  # mean 3, sd √2.5: t = 3 / (√2.5 / √5) = 3√2
    expected = _t_two_sided_p(3 * math.sqrt(2), df=4)
    assert st.paired_p_value(diffs) == pytest.approx(expected, rel=1e-6)
    assert expected == pytest.approx(0.01324, abs=5e-5)


def test_paired_p_value_of_constant_differences() -> None:
    assert st.paired_p_value([0.0, 0.0, 0.0]) == 1.0
    assert st.paired_p_value([0.5, 0.5, 0.5]) == 0.0


def test_paired_test_gives_the_interval_and_effect_size() -> None:
    test = st.paired_test([1.0, 2.0, 3.0, 4.0, 5.0])
    half = 2.7764451051977987 * math.sqrt(2.5) / math.sqrt(5)  # t_0.975,4 · sd / √n
    assert (test.low, test.high) == (pytest.approx(3 - half), pytest.approx(3 + half))
    assert test.effect_size == pytest.approx(3 / math.sqrt(2.5))
    assert test.n == 5 and test.mean_difference == 3.0


def test_holm_steps_down_and_stops_at_the_first_failure() -> None:
    # sorted: 0.005 ≤ 0.05/4, 0.01 ≤ 0.05/3, 0.03 > 0.05/2 → stop (0.04 is not rejected either)
    p_values = {"a": 0.01, "b": 0.04, "c": 0.03, "d": 0.005}
    assert st.holm(p_values) == {"a", "d"}
    assert st.holm({"x": 0.049}) == {"x"}
    assert st.holm({"x": 0.051}) == set()


def test_holm_adjusted_p_values_by_hand_and_consistent_with_the_procedure() -> None:
    p_values = {"a": 0.01, "b": 0.04, "c": 0.03, "d": 0.005}
    # sorted d, a, c, b: 4·0.005 = 0.02, 3·0.01 = 0.03, 2·0.03 = 0.06, max(0.06, 1·0.04) = 0.06
    expected = {"d": 0.02, "a": 0.03, "c": 0.06, "b": 0.06}
    adjusted = st.holm_adjusted(p_values)
    assert adjusted == pytest.approx(expected)
    assert {k for k, v in adjusted.items() if v <= 0.05} == st.holm(p_values)
    assert st.holm_adjusted({"x": 0.6, "y": 0.7}) == {"x": 1.0, "y": 1.0}


def test_verdicts_come_from_the_corrected_p_value_only() -> None:
    assert st.verdict(-1.0, 0.01, lower=True) == "better"
    assert st.verdict(-1.0, 0.01, lower=False) == "worse"
    assert st.verdict(+1.0, 0.049, lower=False) == "better"
    assert st.verdict(-1.0, 0.06, lower=True) == "no detectable difference"
    assert st.verdict(-1.0, None, lower=True) == "no detectable difference"


def test_metric_directions_and_bounds() -> None:
    assert st.lower_is_better("fd:mnist-evaluator") and st.lower_is_better("kid")
    assert not st.lower_is_better("recall") and st.lower_is_better("mine", ["mine"])
    assert st.is_bounded("precision") and st.is_bounded("high-quality-fraction")
    assert not st.is_bounded("fd:pixels") and not st.is_bounded("modes")
    assert st.clip(-0.2, 0.4, 0.0, 1.0) == (0.0, 0.4)
    assert st.clip(None, None, 0.0, 1.0) == (None, None)


@pytest.mark.parametrize(
    ("first", "second"),
    [([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]), ([1, 1, 2, 3], [1, 2, 2, 2]), ([3, 2, 1], [1, 2, 3])],
)
def test_kendall_tau_b_matches_scipy(first: list[float], second: list[float]) -> None:
    from scipy import stats

    expected = stats.kendalltau(first, second, variant="b").statistic
    assert st.kendall_tau(first, second) == pytest.approx(expected, abs=1e-12)
