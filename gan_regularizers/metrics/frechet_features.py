"""Fréchet distance between two feature sets, with a delete-one-fold jackknife interval.

``FD = ‖μ_r − μ_g‖² + tr Σ_r + tr Σ_g − 2 tr √(Σ_r Σ_g)`` (Heusel et al. 2017), from float64
moments (``FeatureMoments``) and the exact trace of
``gan_regularizers.metrics.frechet_trace``.

Interval: the generated samples are split into 10 folds by sample index (``i mod 10``); with
``FD₋ₖ`` the distance without fold k, ``SE = √((K−1)/K · Σₖ (FD₋ₖ − mean)²)`` and the 95 %
interval is ``FD ± t₀.₉₇₅,₉ · SE`` (low clamped at 0), the real statistics held fixed: a sampling
interval over the generated images. Fewer than 20 generated samples give no interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch

from gan_regularizers.errors import MetricError
from gan_regularizers.features.moments import FeatureMoments, GaussianStatistics
from gan_regularizers.metrics.frechet_trace import (
    TraceAgainst,
    frechet_from_moments,
    trace_sqrt_product_from_features,
)
from gan_regularizers.metrics.knn import as_features
from gan_regularizers.metrics.result import MetricResult

JACKKNIFE_FOLDS = 10
T_975_DF9 = 2.2621571627  # Student t quantile 0.975 with 9 degrees of freedom
JACKKNIFE = "95% delete-one-fold jackknife, 10 folds of the generated samples (sampling interval)"


def fold_moments(features: torch.Tensor, first_index: int = 0) -> list[FeatureMoments]:
    """Moments of each jackknife fold of ``features`` whose rows are samples ``first_index…``."""
    folds = [FeatureMoments() for _ in range(JACKKNIFE_FOLDS)]
    index = torch.arange(first_index, first_index + len(features), device=features.device)
    for k in range(JACKKNIFE_FOLDS):
        members = (index % JACKKNIFE_FOLDS) == k
        if members.any():
            folds[k].update(features[members])
    return folds


def jackknife_frechet(
    reference: GaussianStatistics, folds: Sequence[FeatureMoments], intervals: bool = True
) -> tuple[float, float | None, float | None, str]:
    """``(FD, low, high, interval label)`` of the merged folds against ``reference``.

    ``intervals=False`` computes the value alone (one trace instead of eleven).
    """
    trace = TraceAgainst(reference.covariance)

    def distance(excluded: int | None) -> float:
        merged = FeatureMoments()
        for k, moments in enumerate(folds):
            if k != excluded:
                merged.merge(moments)
        return frechet_from_moments(
            reference.mean, reference.covariance, merged.mean, merged.covariance, trace
        )

    return _with_interval(distance, sum(f.count for f in folds), intervals)


def _with_interval(
    distance: Callable[[int | None], float], n_fake: int, intervals: bool
) -> tuple[float, float | None, float | None, str]:
    """``distance(None)`` and the jackknife interval from ``distance(k)``, k = 0…9."""
    value = distance(None)
    if not intervals:
        return value, None, None, "none (intervals=False)"
    if n_fake < 2 * JACKKNIFE_FOLDS:
        return value, None, None, "none (fewer than 20 generated samples)"
    leave_out = torch.tensor([distance(k) for k in range(JACKKNIFE_FOLDS)], dtype=torch.float64)
    k = JACKKNIFE_FOLDS
    standard_error = math.sqrt((k - 1) / k * float(((leave_out - leave_out.mean()) ** 2).sum()))
    half = T_975_DF9 * standard_error
    return value, max(value - half, 0.0), value + half, JACKKNIFE


def jackknife_frechet_features(
    real: torch.Tensor, fake: torch.Tensor, intervals: bool = True
) -> tuple[float, float | None, float | None, str]:
    """As ``jackknife_frechet``, from the features by the factor route (fast when n < d):
    ``tr √(Σ_rΣ_g) = Σ σᵢ(A_rᵀA_g)`` with no d×d matrix."""
    real, fake = real.to(torch.float64), fake.to(torch.float64)
    real_mean = real.mean(0)
    real_trace = float(((real - real_mean) ** 2).sum()) / (len(real) - 1)
    folds = torch.arange(len(fake)) % JACKKNIFE_FOLDS

    def distance(excluded: int | None) -> float:
        rows = fake if excluded is None else fake[folds != excluded]
        mean = rows.mean(0)
        fake_trace = float(((rows - mean) ** 2).sum()) / (len(rows) - 1)
        cross = float(trace_sqrt_product_from_features(real, rows))
        value = float(((real_mean - mean) ** 2).sum()) + real_trace + fake_trace - 2 * cross
        return max(value, 0.0)

    return _with_interval(distance, len(fake), intervals)


def frechet_result(
    name: str,
    reference: GaussianStatistics,
    folds: Sequence[FeatureMoments],
    protocol: dict[str, Any] | None = None,
    intervals: bool = True,
) -> MetricResult:
    """A ``MetricResult`` from reference statistics and the generated folds."""
    value, low, high, label = jackknife_frechet(reference, folds, intervals)
    n_fake = sum(f.count for f in folds)
    return MetricResult(
        name, value, low, high, reference.count, n_fake, {**(protocol or {}), "interval": label}
    )


def frechet_distance(real_features: Any, fake_features: Any) -> MetricResult:
    """Fréchet distance between ``N×d`` real and ``M×d`` generated features (tensors/arrays)."""
    real = as_features(real_features, "real_features")
    fake = as_features(fake_features, "fake_features")
    if real.shape[1] != fake.shape[1]:
        raise MetricError(
            f"real features have {real.shape[1]} dimensions, generated {fake.shape[1]}; "
            "measure both in the same feature space."
        )
    protocol = {"metric": "fd", "dimension": int(real.shape[1])}
    if min(len(real), len(fake)) < real.shape[1]:  # n < d: the factor route
        value, low, high, label = jackknife_frechet_features(real, fake)
        protocol = {**protocol, "interval": label, "route": "factors (n < d)"}
        return MetricResult("fd", value, low, high, len(real), len(fake), protocol)
    reference = FeatureMoments().update(real).statistics()
    return frechet_result("fd", reference, fold_moments(fake), protocol)
