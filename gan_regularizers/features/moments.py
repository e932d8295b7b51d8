"""Streaming float64 mean and covariance of features (what Fréchet distances and the centroid's
statistics are computed from). The Fréchet distance itself is
``gan_regularizers.metrics.frechet_distance_from_statistics`` (one implementation)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from gan_regularizers.distributed import is_distributed


class FeatureMoments:
    """Streaming float64 mean and covariance of ``B×d`` feature batches (Chan et al. merging).

    Each batch is reduced to ``(n, mean, M2)`` with ``M2 = Σ (x − mean)(x − mean)ᵀ`` and merged:
    ``δ = mean_b − mean_a``, ``mean = mean_a + δ n_b / n``,
    ``M2 = M2_a + M2_b + δ δᵀ n_a n_b / n``. Memory is O(d²); features are never stored.
    """

    def __init__(self) -> None:
        self.count = 0
        self._mean: torch.Tensor | None = None
        self._m2: torch.Tensor | None = None

    def update(self, features: torch.Tensor) -> FeatureMoments:
        """Add a batch ``B×d`` (any float dtype; accumulated in float64)."""
        if features.dim() != 2:
            raise ValueError(f"features must be B×d, got shape {tuple(features.shape)}.")
        if features.shape[0] == 0:
            return self
        values = features.detach().to(torch.float64)
        if not torch.isfinite(values).all():
            raise ValueError("features contain NaN or Inf; check the images and the network.")
        mean = values.mean(dim=0)
        centred = values - mean
        self._merge(values.shape[0], mean, centred.T @ centred)
        return self

    def _merge(self, count: int, mean: torch.Tensor, m2: torch.Tensor) -> None:
        if self._mean is None or self._m2 is None:
            self.count, self._mean, self._m2 = count, mean.clone(), m2.clone()
            return
        if mean.shape != self._mean.shape:
            raise ValueError(
                f"feature dimension changed from {self._mean.shape[0]} to {mean.shape[0]}."
            )
        total = self.count + count
        delta = mean - self._mean
        self._mean = self._mean + delta * (count / total)
        self._m2 = self._m2 + m2 + torch.outer(delta, delta) * (self.count * count / total)
        self.count = total

    def merge(self, other: FeatureMoments) -> FeatureMoments:
        """Add another accumulator's samples to this one."""
        if other._mean is not None and other._m2 is not None:
            self._merge(other.count, other._mean, other._m2)
        return self

    def all_reduce(self) -> FeatureMoments:
        """Merge every rank's moments, in rank order, so all ranks hold the same result.

        A rank that saw no samples contributes nothing; too few samples in total is decided by
        the merged count (``covariance`` raises on every rank alike).
        """
        if not is_distributed():
            return self
        import torch.distributed as dist

        device = self._mean.device if self._mean is not None else torch.device("cpu")
        mine = (self.count, self._mean, self._m2)
        if self._mean is not None and self._m2 is not None and device.type != "cpu":
            mine = (self.count, self._mean.cpu(), self._m2.cpu())
        parts: list[tuple | None] = [None] * dist.get_world_size()
        dist.all_gather_object(parts, mine)
        merged = FeatureMoments()
        for count, mean, m2 in (p for p in parts if p is not None):
            if count:  # a rank that saw no samples contributes nothing
                merged._merge(count, mean, m2)
        self.count = merged.count
        self._mean = merged._mean.to(device) if merged._mean is not None else None
        self._m2 = merged._m2.to(device) if merged._m2 is not None else None
        return self

    @property
    def mean(self) -> torch.Tensor:
        self._require(1)
        assert self._mean is not None
        return self._mean

    @property
    def covariance(self) -> torch.Tensor:
        """Unbiased covariance ``M2 / (n − 1)``, as ``numpy.cov``."""
        self._require(2)
        assert self._m2 is not None
        return self._m2 / (self.count - 1)

    def _require(self, minimum: int) -> None:
        if self.count < minimum:
            raise ValueError(
                f"{self.count} sample(s) seen; a covariance needs at least 2. Use more images."
            )

    def statistics(self) -> GaussianStatistics:
        return GaussianStatistics(self.mean, self.covariance, self.count)


@dataclass
class GaussianStatistics:
    """Mean ``d``, covariance ``d×d`` (float64) and the number of samples they came from."""

    mean: torch.Tensor
    covariance: torch.Tensor
    count: int
