"""What one pass of a feature network over one image set keeps for every metric in its space.

* float64 moments (``FeatureMoments``) of all features and
  of the 10 jackknife folds (sample index mod 10), for Fréchet distances: O(d²), never stored;
* the features themselves with their global sample indices, only when a metric needs them (KID,
  precision/recall, density/coverage), bounded by ``max_features``.

Under ``torch.distributed`` the moments are merged across ranks (rank order) and the features are
gathered and put back in global sample order, so every rank computes the number one process
would. Memory: after gathering every rank holds ``N × d`` features (float32 as the network gives
them: 50,000 × 2048 is 400 MB); ``FeatureMemoryError`` is raised
before gathering more than ``max_features`` rows.
"""

from __future__ import annotations

import torch

from gan_regularizers.distributed import all_gather_objects, rank_and_world_size
from gan_regularizers.errors import FeatureMemoryError, MetricError
from gan_regularizers.features.moments import FeatureMoments, GaussianStatistics
from gan_regularizers.metrics.frechet_features import JACKKNIFE_FOLDS

DEFAULT_MAX_FEATURES = 50_000


class FeatureCollector:
    """Moments (total and per fold) and, optionally, the features of one image set."""

    def __init__(
        self,
        keep_features: bool = False,
        max_features: int | None = DEFAULT_MAX_FEATURES,
        folds: bool = True,
    ) -> None:
        self.keep_features = keep_features
        self.max_features = max_features
        self.use_folds = folds  # the total is then the merge of the folds: one update per row
        self.keep_moments = True  # False when no Fréchet metric reads this space: O(d²) saved
        self.reset()

    def reset(self) -> None:
        self.moments = FeatureMoments()
        self.folds = [FeatureMoments() for _ in range(JACKKNIFE_FOLDS)]
        self._features: list[torch.Tensor] = []
        self._indices: list[torch.Tensor] = []
        self.local_count = 0
        self._reduced = False
        self.fixed_statistics: GaussianStatistics | None = None  # e.g. from the cache

    def add(self, features: torch.Tensor, indices: torch.Tensor | None = None) -> None:
        """Add ``B×d`` features of the samples ``indices`` (default: the next on this rank)."""
        features = features.detach().reshape(features.shape[0], -1)
        if indices is None:
            rank, world_size = rank_and_world_size()
            local = torch.arange(self.local_count, self.local_count + len(features))
            indices = local * world_size + rank  # the rank::world_size sharding convention
        indices = indices.reshape(-1).cpu()
        self.local_count += len(features)
        self._check_bound(self.local_count)
        if self.keep_moments and not self.use_folds:
            self.moments.update(features)
        for k in range(JACKKNIFE_FOLDS if self.use_folds and self.keep_moments else 0):
            members = (indices % JACKKNIFE_FOLDS) == k
            if members.any():
                self.folds[k].update(features[members.to(features.device)])
        if self.keep_features:
            self._features.append(features.cpu())
            self._indices.append(indices)

    def _check_bound(self, count: int) -> None:
        if self.keep_features and self.max_features is not None and count > self.max_features:
            raise FeatureMemoryError(
                f"{count} feature rows would be kept, more than max_features={self.max_features} "
                "(each is d float32 values, gathered on every rank). Use fewer images "
                "(num_samples / max_images) or raise max_features if the memory allows."
            )

    def reduce(self) -> FeatureCollector:
        """Merge the moments across ranks (once)."""
        if not self._reduced and self.keep_moments:
            if self.use_folds:
                for fold in self.folds:
                    fold.all_reduce()
                self.moments = FeatureMoments()
                for fold in self.folds:
                    self.moments.merge(fold)
            else:
                self.moments.all_reduce()
            self._reduced = True
        return self

    def statistics(self) -> GaussianStatistics:
        """Mean and covariance of all ranks' features (or the statistics set from a cache)."""
        if self.fixed_statistics is not None:
            return self.fixed_statistics
        return self.reduce().moments.statistics()

    def count(self) -> int:
        """Samples seen on all ranks (or behind the statistics set from a cache)."""
        if self.fixed_statistics is not None:
            return self.fixed_statistics.count
        return sum(int(c) for c in all_gather_objects(self.local_count))  # type: ignore[call-overload]

    def features(self) -> torch.Tensor:
        """All ranks' features, in global sample order (``N×d``, on the CPU)."""
        if not self.keep_features:
            raise MetricError("this collector keeps no features (keep_features=False).")
        self._check_bound(sum(int(c) for c in all_gather_objects(self.local_count)))  # type: ignore[call-overload]
        mine = (torch.cat(self._indices), torch.cat(self._features)) if self._features else None
        parts = [p for p in all_gather_objects(mine) if p is not None]
        if not parts:
            raise MetricError("no features were collected; update the metric with images first.")
        indices = torch.cat([i for i, _ in parts])
        features = torch.cat([f for _, f in parts])
        return features[indices.argsort(stable=True)]
