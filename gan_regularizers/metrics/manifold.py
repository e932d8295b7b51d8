"""Precision/recall (Kynkäänniemi et al. 2019) and density/coverage (Naeem et al. 2020).

With real features ``X`` (N rows), generated ``Y`` (M rows) and ``NND_k(x)`` the distance from
``x`` to its k-th nearest neighbour in its own set (itself excluded), ``B(x, r)`` the closed ball:

* precision ``= (1/M) Σⱼ 1[∃i: Yⱼ ∈ B(Xᵢ, NND_k(Xᵢ))]`` (generated samples on the real manifold);
* recall ``= (1/N) Σᵢ 1[∃j: Xᵢ ∈ B(Yⱼ, NND_k(Yⱼ))]`` (real samples on the generated manifold);
* density ``= (1/(kM)) Σⱼ Σᵢ 1[Yⱼ ∈ B(Xᵢ, NND_k(Xᵢ))]`` (can exceed 1);
* coverage ``= (1/N) Σᵢ 1[∃j: Yⱼ ∈ B(Xᵢ, NND_k(Xᵢ))]``.

Each is a mean of per-sample values; its 95 % interval is a percentile bootstrap over those
values (1000 resamples, seeded), conditional on the other set: a sampling interval.
Distances are computed in float64 chunks (``gan_regularizers.metrics.knn``).
"""

from __future__ import annotations

from typing import Any

import torch

from gan_regularizers.errors import MetricError
from gan_regularizers.metrics.bootstrap import bootstrap_interval
from gan_regularizers.metrics.knn import (
    as_feature_pair,
    count_in_balls,
    in_own_ball_of_any,
    kth_neighbour_radii,
)
from gan_regularizers.metrics.result import DensityCoverage, MetricResult, PrecisionRecall

BOOTSTRAP = "95% percentile bootstrap over samples (1000 resamples), a sampling interval"


def _result(
    name: str, per_sample: torch.Tensor, n_real: int, n_fake: int, protocol: dict[str, Any]
) -> MetricResult:
    low, high = bootstrap_interval(per_sample, seed=protocol.get("seed", 0))
    return MetricResult(
        name,
        float(per_sample.mean()),
        low,
        high,
        n_real,
        n_fake,
        {**protocol, "interval": BOOTSTRAP},
    )


def check_k(k: object) -> None:
    """Raise ``MetricError`` unless ``k`` is a positive integer."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise MetricError(f"k (the k-th nearest neighbour) must be an integer ≥ 1, got {k!r}.")


def precision_recall(
    real_features: Any, fake_features: Any, k: int = 3, seed: int = 0
) -> PrecisionRecall:
    """Improved precision and recall (Kynkäänniemi et al. 2019) with k-NN radii, ``k = 3``."""
    check_k(k)
    real, fake = as_feature_pair(real_features, fake_features)
    real_radii = kth_neighbour_radii(real, k)
    fake_radii = kth_neighbour_radii(fake, k)
    on_real = (count_in_balls(fake, real, real_radii) > 0).to(torch.float64)
    on_fake = (count_in_balls(real, fake, fake_radii) > 0).to(torch.float64)
    protocol = {
        "metric": "precision-recall",
        "k": k,
        "seed": seed,
        "distance": "euclidean, float64",
    }
    n_real, n_fake = len(real), len(fake)
    return PrecisionRecall(
        _result("precision", on_real, n_real, n_fake, protocol),
        _result("recall", on_fake, n_real, n_fake, protocol),
    )


def density_coverage(
    real_features: Any, fake_features: Any, k: int = 5, seed: int = 0
) -> DensityCoverage:
    """Density and coverage (Naeem et al. 2020) with the real set's k-NN radii, ``k = 5``."""
    check_k(k)
    real, fake = as_feature_pair(real_features, fake_features)
    radii = kth_neighbour_radii(real, k)
    per_fake = count_in_balls(fake, real, radii) / k
    per_real = in_own_ball_of_any(real, radii, fake)
    protocol = {
        "metric": "density-coverage",
        "k": k,
        "seed": seed,
        "distance": "euclidean, float64",
    }
    n_real, n_fake = len(real), len(fake)
    return DensityCoverage(
        _result("density", per_fake, n_real, n_fake, protocol),
        _result("coverage", per_real, n_real, n_fake, protocol),
    )
