"""Kernel distance (KID, Bińkowski et al. 2018): unbiased MMD² with a polynomial kernel.

``k(x, y) = (xᵀy / d + 1)³`` on ``d``-dimensional features. For one subset of ``m`` real rows X
and ``m`` generated rows Y (drawn without replacement),

``MMD²ᵤ = Σ_{i≠j} k(Xᵢ,Xⱼ)/(m(m−1)) + Σ_{i≠j} k(Yᵢ,Yⱼ)/(m(m−1)) − 2 Σ_{i,j} k(Xᵢ,Yⱼ)/m²``.

The value is the mean over ``subsets`` subsets (seeded); the 95 % interval is the 2.5–97.5 %
range of the per-subset estimates. The subsets share samples, so that range describes one
subset's estimate, a conservative sampling interval for the mean. ``subset_size`` larger than
either set is reduced to the smaller set's size (recorded in the protocol).
"""

from __future__ import annotations

from typing import Any

import torch

from gan_regularizers.errors import MetricError
from gan_regularizers.metrics.knn import as_feature_pair
from gan_regularizers.metrics.result import MetricResult


def polynomial_mmd2(real: torch.Tensor, fake: torch.Tensor, degree: int = 3) -> float:
    """The unbiased MMD² of one subset pair with ``(xᵀy/d + 1)^degree`` (float64)."""
    d, m, n = real.shape[1], real.shape[0], fake.shape[0]
    k_xx = (real @ real.T / d + 1) ** degree
    k_yy = (fake @ fake.T / d + 1) ** degree
    k_xy = (real @ fake.T / d + 1) ** degree
    within_real = (k_xx.sum() - k_xx.diagonal().sum()) / (m * (m - 1))
    within_fake = (k_yy.sum() - k_yy.diagonal().sum()) / (n * (n - 1))
    return float(within_real + within_fake - 2 * k_xy.mean())


def check_kid_options(subsets: object, subset_size: object, degree: object) -> None:
    """Raise ``MetricError`` unless subsets ≥ 1, subset_size ≥ 2 and degree ≥ 1 (ints)."""
    for option, value, least in (("subsets", subsets, 1), ("subset_size", subset_size, 2),
                                 ("degree", degree, 1)):  # fmt: skip
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise MetricError(
                f"kid: {option} must be an integer ≥ {least}, got {value!r}; e.g. "
                "kid:subsets=100,subset_size=1000,degree=3."
            )


def _interval_method(subsets: int, whole: bool, size: int) -> str:
    if subsets == 1:
        return "none (one subset: give subsets > 1 …)"
    if whole:
        return (
            f"none (every subset holds all {size} samples of both sets, so all subsets agree: "
            "give subset_size smaller than the sets for an interval)"
        )
    return "2.5-97.5% range of the per-subset estimates, a sampling interval"


def kernel_distance(
    real_features: Any,
    fake_features: Any,
    subsets: int = 100,
    subset_size: int = 1000,
    degree: int = 3,
    seed: int = 0,
) -> MetricResult:
    """KID: mean unbiased polynomial MMD² over ``subsets`` random subsets of ``subset_size``."""
    check_kid_options(subsets, subset_size, degree)
    real, fake = as_feature_pair(real_features, fake_features)
    size = min(subset_size, len(real), len(fake))
    generator = torch.Generator().manual_seed(seed)
    values = []
    for _ in range(subsets):
        real_rows = torch.randperm(len(real), generator=generator)[:size]
        fake_rows = torch.randperm(len(fake), generator=generator)[:size]
        values.append(polynomial_mmd2(real[real_rows], fake[fake_rows], degree))
    estimates = torch.tensor(values, dtype=torch.float64)
    low = high = None  # one subset: no interval (the protocol says so)
    whole = size == len(real) == len(fake)  # every subset is both whole sets: all the same
    if subsets > 1 and not whole:
        bounds = torch.quantile(estimates, torch.tensor([0.025, 0.975], dtype=torch.float64))
        low, high = float(bounds[0]), float(bounds[1])
    protocol = {
        "metric": "kid",
        "kernel": f"(x·y/d + 1)^{degree}",
        "subsets": subsets,
        "subset_size": size,
        "requested_subset_size": subset_size,
        "seed": seed,
        "std_over_subsets": float(estimates.std()) if subsets > 1 else None,
        "interval": _interval_method(subsets, whole, size),
    }
    return MetricResult("kid", float(estimates.mean()), low, high, len(real), len(fake), protocol)
