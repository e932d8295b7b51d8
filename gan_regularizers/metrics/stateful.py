"""Metrics that accumulate over batches, torchmetrics style: ``update``, ``compute``, ``reset``.

>>> fd = FrechetDistance("mnist-evaluator")
>>> fd.update(real_images, real=True)          # doctest: +SKIP
>>> fd.update(fake_images, real=False)         # doctest: +SKIP
>>> fd.compute().value                         # doctest: +SKIP

Each metric owns a frozen feature space (a registered name with options, a module, or ``None``
when ``update`` receives features already). Fréchet distance keeps float64 moments only; KID,
precision/recall and density/coverage keep the features (up to ``max_features`` rows per image
set, 50,000 by default, an error beyond). Under ``torch.distributed`` call ``update`` on every
rank with its own shard and ``compute`` on every rank: the moments are merged and the features
gathered, so every rank gets the number one process would on all the data. The fake sample ``i``
of rank ``r`` counts as global sample ``i·W + r`` (the ``rank::world_size`` sharding) for the
jackknife folds and the KID subsets.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from gan_regularizers.files.statistics_files import module_descriptor
from gan_regularizers.metrics.collect import DEFAULT_MAX_FEATURES, FeatureCollector
from gan_regularizers.metrics.frechet_features import frechet_result
from gan_regularizers.metrics.kernel import kernel_distance
from gan_regularizers.metrics.manifold import density_coverage, precision_recall
from gan_regularizers.metrics.result import DensityCoverage, MetricResult, PrecisionRecall


def module_device(module: nn.Module) -> torch.device:
    """The device of a module's first parameter or buffer (CPU for a module with neither)."""
    for tensor in (*module.parameters(), *module.buffers()):
        return tensor.device
    return torch.device("cpu")


def build_space(space: str | nn.Module | None, options: dict[str, Any]) -> nn.Module | None:
    """A registered feature space by name (with options), a given module, or ``None``."""
    if isinstance(space, str):
        from gan_regularizers.plugin_system.registry import get_feature_space

        return get_feature_space(space, **options)
    return space


class FeatureMetric:
    """Base of the stateful metrics: embeds images, collects real and fake features."""

    name = "feature-metric"
    keep_features = True

    def __init__(
        self,
        feature_space: str | nn.Module | None = "inception",
        *,
        max_features: int | None = DEFAULT_MAX_FEATURES,
        **space_options: Any,
    ) -> None:
        self.space = build_space(feature_space, space_options)
        self.real = FeatureCollector(self.keep_features, max_features, folds=False)
        self.fake = FeatureCollector(self.keep_features, max_features)

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        if self.space is None:
            return images
        with torch.inference_mode():
            return self.space(images.to(module_device(self.space)))

    def update(self, images: torch.Tensor, real: bool) -> None:
        """Add a batch of real (``real=True``) or generated images (or features)."""
        (self.real if real else self.fake).add(self.embed(images))

    def reset(self) -> None:
        """Forget every image seen."""
        self.real.reset()
        self.fake.reset()

    def protocol(self) -> dict[str, Any]:
        return {"feature_space": module_descriptor(self.space) if self.space is not None else None}


class FrechetDistance(FeatureMetric):
    """Fréchet distance (float64 moments only), 95 % jackknife interval over the fake samples."""

    name = "fd"
    keep_features = False

    def compute(self) -> MetricResult:
        reference = self.real.statistics()
        return frechet_result(self.name, reference, self.fake.reduce().folds, self.protocol())


class KernelDistance(FeatureMetric):
    """KID: :func:`~gan_regularizers.metrics.kernel.kernel_distance` on the gathered features."""

    name = "kid"

    def __init__(
        self,
        feature_space: str | nn.Module | None = "inception",
        *,
        subsets: int = 100,
        subset_size: int = 1000,
        degree: int = 3,
        seed: int = 0,
        max_features: int | None = DEFAULT_MAX_FEATURES,
        **space_options: Any,
    ) -> None:
        super().__init__(feature_space, max_features=max_features, **space_options)
        self.options = {
            "subsets": subsets,
            "subset_size": subset_size,
            "degree": degree,
            "seed": seed,
        }

    def compute(self) -> MetricResult:
        result = kernel_distance(self.real.features(), self.fake.features(), **self.options)
        result.protocol.update(self.protocol())
        return result


class PrecisionRecallMetric(FeatureMetric):
    """Precision and recall (k-NN radii, ``k = 3``) on the gathered features."""

    name = "precision-recall"

    def __init__(
        self,
        feature_space: str | nn.Module | None = "inception",
        *,
        k: int = 3,
        seed: int = 0,
        max_features: int | None = DEFAULT_MAX_FEATURES,
        **space_options: Any,
    ) -> None:
        super().__init__(feature_space, max_features=max_features, **space_options)
        self.k, self.seed = k, seed

    def compute(self) -> PrecisionRecall:
        result = precision_recall(self.real.features(), self.fake.features(), self.k, self.seed)
        for item in result.results().values():
            item.protocol.update(self.protocol())
        return result


class DensityCoverageMetric(PrecisionRecallMetric):
    """Density and coverage (the real set's k-NN radii, ``k = 5``) on the gathered features."""

    name = "density-coverage"

    def __init__(
        self,
        feature_space: str | nn.Module | None = "inception",
        *,
        k: int = 5,
        seed: int = 0,
        max_features: int | None = DEFAULT_MAX_FEATURES,
        **space_options: Any,
    ) -> None:
        super().__init__(feature_space, k=k, seed=seed, max_features=max_features, **space_options)

    def compute(self) -> DensityCoverage:  # type: ignore[override]
        result = density_coverage(self.real.features(), self.fake.features(), self.k, self.seed)
        for item in result.results().values():
            item.protocol.update(self.protocol())
        return result
