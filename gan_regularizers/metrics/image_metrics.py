"""Image metrics: LPIPS diversity (``lpips-div``) and class coverage (``modes``)."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any

import torch

from gan_regularizers.distributed import all_gather_objects
from gan_regularizers.files.statistics_files import module_descriptor
from gan_regularizers.metrics.definitions import EvalContext, ImageMetric
from gan_regularizers.metrics.image_sources import FakeImages
from gan_regularizers.metrics.result import MetricResult
from gan_regularizers.plugin_system.specs import format_spec


class LpipsDiversityMetric(ImageMetric):
    """Mean LPIPS over seeded distinct pairs of generated images, bootstrap interval.

    Args:
        pairs: pairs to draw (default: ``evaluate``'s ``pairs``, 5,000).
        weights: a local torchvision AlexNet file for the LPIPS trunk.
        pretrained: ``False`` accepts a randomly initialised trunk (the numbers are then not
            LPIPS; for tests).
    """

    name = "lpips-div"

    def __init__(
        self, pairs: int | None = None, weights: str | None = None, pretrained: bool = True
    ) -> None:
        self.pairs, self.weights, self.pretrained = pairs, weights, pretrained

    @property
    def spec(self) -> str:
        options = {"pairs": self.pairs, "weights": self.weights}
        options = {k: v for k, v in options.items() if v is not None}
        return format_spec(
            self.name, {**options, **({} if self.pretrained else {"pretrained": False})}
        )

    def descriptor(self) -> dict[str, Any]:
        sha = None
        if self.weights is not None and Path(self.weights).is_file():
            sha = hashlib.sha256(Path(self.weights).read_bytes()).hexdigest()
        return {"weights_sha256": sha, "random_trunk_allowed": not self.pretrained}

    def compute_images(
        self, fake: FakeImages, real: Any, context: EvalContext
    ) -> dict[str, MetricResult]:
        from gan_regularizers.metrics.lpips_diversity import lpips_diversity

        wanted = self.pairs or context.pairs
        pool = fake.first(min(fake.n, 2 * wanted))
        pairs = min(wanted, len(pool) * (len(pool) - 1) // 2)
        result = lpips_diversity(
            pool,
            pairs=pairs,
            seed=context.seed,
            batch_size=context.batch_size,
            weights=self.weights,
            pretrained=self.pretrained,
        )
        result.n_fake = len(pool)
        return {self.name: result}


class ModeCoverageMetric(ImageMetric):
    """Classes covered by a classifier's predictions and their KL to uniform.

    Args:
        classifier: a registered feature space with ``predict(images)`` (``-1`` for a sample it
            rejects) and ``num_classes`` (default ``mnist-evaluator``, declared where ``modes``
            is registered).
        resamples: bootstrap resamples for the KL interval.
        **options: options of the classifier's feature space.
    """

    name = "modes"

    def __init__(
        self, classifier: str = "mnist-evaluator", resamples: int = 200, **options: Any
    ) -> None:
        self.classifier, self.resamples, self.options = classifier, resamples, options

    @property
    def spec(self) -> str:
        return format_spec(self.name, {"classifier": self.classifier, **self.options})

    def build(self) -> Any:
        from gan_regularizers.plugin_system.registry import get_feature_space

        return get_feature_space(self.classifier, **self.options)

    def descriptor(self) -> dict[str, Any]:
        return module_descriptor(self.build())

    def compute_images(
        self, fake: FakeImages, real: Any, context: EvalContext
    ) -> dict[str, MetricResult]:
        from gan_regularizers.metrics.mode_coverage import class_coverage
        from gan_regularizers.metrics.stateful import module_device

        classifier = self.build().to(fake.device)
        device = module_device(classifier)
        indices, labels = [], []
        for batch_indices, images in fake.indexed_batches():
            indices.append(batch_indices)
            labels.append(classifier.predict(images.to(device)).cpu())
        mine = (torch.cat(indices), torch.cat(labels)) if indices else None
        parts = [p for p in all_gather_objects(mine) if p is not None]
        order = torch.cat([i for i, _ in parts]).argsort()
        predictions = torch.cat([p for _, p in parts])[order]  # back in sample order
        num_classes = int(classifier.num_classes)
        coverage = class_coverage(predictions, num_classes)
        low, high = self._kl_interval(predictions, num_classes, context.seed)
        protocol = {
            "classifier": module_descriptor(classifier),
            "histogram": coverage.histogram,
            "num_classes": num_classes,
        }
        n = int(predictions.numel())
        return {
            "modes": MetricResult(
                "modes",
                float(coverage.covered),
                None,
                None,
                None,
                n,
                {**protocol, "interval": "none (a count)"},
            ),
            "modes-accepted": MetricResult(
                "modes-accepted",
                coverage.accepted,
                *_wilson_interval(coverage.accepted, n),
                None,
                n,
                {**protocol, "interval": "95% Wilson score interval (sampling interval)"},
            ),
            "modes-kl": MetricResult(
                "modes-kl",
                coverage.kl_to_uniform,
                low,
                high,
                None,
                n,
                {
                    **protocol,
                    "interval": f"95% bootstrap over samples, {self.resamples} "
                    "resamples (sampling interval)",
                },
            ),
        }

    def _kl_interval(
        self, predictions: torch.Tensor, num_classes: int, seed: int
    ) -> tuple[float, float]:
        from gan_regularizers.metrics.mode_coverage import class_coverage

        generator = torch.Generator().manual_seed(seed)
        values = []
        for _ in range(self.resamples):
            index = torch.randint(predictions.numel(), (predictions.numel(),), generator=generator)
            values.append(class_coverage(predictions[index], num_classes).kl_to_uniform)
        low, high = torch.quantile(
            torch.tensor(values, dtype=torch.float64),
            torch.tensor([0.025, 0.975], dtype=torch.float64),
        ).tolist()
        return low, high


def _wilson_interval(fraction: float, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """95 % Wilson score interval of a binomial proportion ``fraction`` of ``n`` trials."""
    centre = (fraction + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(fraction * (1 - fraction) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)
