"""The experiments' statistics (experiments/stats.py, used by leaderboard_page.py and
mixtures.py): the paired t-test and Holm's step-down correction that decide which differences
the leaderboard calls detectable."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments"))

pytest.importorskip("scipy")
leaderboard_page = pytest.importorskip("leaderboard_page")
stats = pytest.importorskip("stats")


def _t_two_sided_p(t: float, df: int) -> float:
    """2·P(T > |t|) by integrating the Student-t density in float64 (trapezoid rule)."""
    x = np.linspace(abs(t), abs(t) + 400.0, 4_000_001)
    log_c = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    density = np.exp(log_c - (df + 1) / 2 * np.log1p(x * x / df))
    return float(2 * np.trapezoid(density, x))


def test_paired_p_value_matches_the_t_density() -> None:
    diffs = [1.0, 2.0, 3.0, 4.0, 5.0]  # mean 3, sd √2.5: t = 3 / (√2.5 / √5) = 3√2
    expected = _t_two_sided_p(3 * math.sqrt(2), df=4)
    assert stats.paired_p_value(diffs) == pytest.approx(expected, rel=1e-6)
    assert expected == pytest.approx(0.01324, abs=5e-5)


def test_paired_p_value_of_constant_differences() -> None:
    assert stats.paired_p_value([0.0, 0.0, 0.0]) == 1.0
    assert stats.paired_p_value([0.5, 0.5, 0.5]) == 0.0


def test_holm_steps_down_and_stops_at_the_first_failure() -> None:
    # sorted: 0.005 ≤ 0.05/4, 0.01 ≤ 0.05/3, 0.03 > 0.05/2 → stop (0.04 is not rejected either)
    p_values = {"a": 0.01, "b": 0.04, "c": 0.03, "d": 0.005}
    assert stats.holm(p_values) == {"a", "d"}
    assert stats.holm({"x": 0.049}) == {"x"}
    assert stats.holm({"x": 0.051}) == set()


def test_verdict_separates_uncorrected_from_corrected_differences() -> None:
    clear = [-1.0, -1.1, -0.9, -1.05, -0.95]
    assert "better" in leaderboard_page.verdict(clear, lower_is_better=True, survives=True)
    uncorrected = leaderboard_page.verdict(clear, lower_is_better=True, survives=False)
    assert uncorrected.startswith("interval excludes 0 (better)")
    assert "worse" in leaderboard_page.verdict(clear, lower_is_better=False, survives=True)
    mixed = [-1.0, 1.0, -0.5, 0.5, 0.1]
    assert leaderboard_page.verdict(mixed, True, False) == "no detectable difference"
