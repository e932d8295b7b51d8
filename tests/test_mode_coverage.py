"""Mode coverage against hand computations."""

from __future__ import annotations

import math

import pytest
import torch

from gan_regularizers.metrics.mode_coverage import (
    class_coverage,
    grid_centres,
    mixture_coverage,
    ring_centres,
)


def test_class_coverage_of_a_uniform_and_a_collapsed_generator() -> None:
    uniform = class_coverage(torch.arange(100) % 10)
    assert uniform.covered == 10 and uniform.kl_to_uniform == pytest.approx(0.0, abs=1e-12)
    collapsed = class_coverage(torch.full((50,), 3))
    assert collapsed.covered == 1
    assert collapsed.kl_to_uniform == pytest.approx(math.log(10))
    assert collapsed.histogram[3] == 50


def test_class_coverage_hand_computed_kl() -> None:
    # p = (1/2, 1/4, 1/4, 0): KL = 1/2 log 2 + 2 · 1/4 log 1 = 0.5 log 2 (K = 4)
    result = class_coverage(torch.tensor([0, 0, 1, 2]), num_classes=4)
    assert result.covered == 3
    assert result.kl_to_uniform == pytest.approx(0.5 * math.log(2))
    assert class_coverage(torch.tensor([0, 0, 1, 2]), num_classes=4, min_count=2).covered == 1
    with pytest.raises(ValueError, match=r"in \[0, 4\)"):
        class_coverage(torch.tensor([5]), num_classes=4)


def test_mixture_centres() -> None:
    ring = ring_centres(8, 2.0)
    assert ring.shape == (8, 2)
    torch.testing.assert_close(ring.norm(dim=1), torch.full((8,), 2.0, dtype=torch.float64))
    grid = grid_centres(5, 2.0)
    assert grid.shape == (25, 2) and grid.min() == -4 and grid.max() == 4


def test_mixture_coverage_counts_high_quality_samples_per_mode() -> None:
    centres = ring_centres(8, 2.0)
    std = 0.02
    near = centres[:3] + 0.05  # within 3σ = 0.06 per axis? 0.05·√2 = 0.0707 > 0.06: not good
    exact = centres[3:6]  # on the centres: good
    far = torch.zeros(2, 2, dtype=torch.float64)  # the middle of the ring: not good
    result = mixture_coverage(torch.cat([near, exact, far]), centres, std)
    assert result.covered == 3 and result.num_modes == 8
    assert result.high_quality_fraction == pytest.approx(3 / 8)
