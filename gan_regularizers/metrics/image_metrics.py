"""Metrics on the generated images themselves: LPIPS diversity (``lpips-div``) and class
coverage (``modes``), in the one metric model (``Metric``).

Both keep their states with ``add_state`` (the images or predictions with their global sample
indices, concatenated across ranks), so ``compute`` sees what one process would.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any

import torch

from gan_regularizers.errors import MetricError
from gan_regularizers.files.statistics_files import module_descriptor
from gan_regularizers.metrics.base import EvalContext, Metric, module_device
from gan_regularizers.metrics.result import MetricResult, Results

Z_975 = 1.959963984540054


def _in_sample_order(parts: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    """The values of ``(indices, values)`` parts, ordered by global sample index."""
    if not parts:
        raise MetricError("no generated images were seen; update the metric with images first.")
    indices = torch.cat([i for i, _ in parts])
    return torch.cat([v for _, v in parts])[indices.argsort(stable=True)]


def _next_indices(metric: Metric, count: int) -> torch.Tensor:
    from gan_regularizers.distributed import rank_and_world_size

    rank, world_size = rank_and_world_size()
    seen = metric._local_count  # type: ignore[attr-defined]
    metric._local_count = seen + count  # type: ignore[attr-defined]
    return torch.arange(seen, seen + count) * world_size + rank


class LpipsDiversityMetric(Metric):
    """Mean LPIPS over seeded distinct pairs of generated images, bootstrap interval.

    Keeps the first ``2 · pairs`` generated images (global sample order) and draws the pairs
    among them (``lpips_diversity``).

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
        options: dict[str, Any] = {"pairs": pairs, "weights": weights}
        options = {k: v for k, v in options.items() if v is not None}
        super().__init__(**options, **({} if pretrained else {"pretrained": False}))
        self.pairs, self.weights, self.pretrained = pairs, weights, pretrained
        self.add_state("images", [], dist_reduce_fx="cat")
        self._local_count = 0
        self.limit: int | None = None  # 2·pairs, set by the engine from its `pairs`

    def reset(self) -> None:
        super().reset()
        self._local_count = 0

    def update(
        self, values: torch.Tensor, *, real: bool = False, indices: torch.Tensor | None = None
    ) -> None:
        """Keep generated images (real ones are not used) up to ``2 · pairs`` in sample order."""
        if real:
            return
        if indices is None:
            indices = _next_indices(self, len(values))
        if self.limit is not None:
            keep = indices < self.limit
            values, indices = values[keep.to(values.device)], indices[keep]
        if len(indices):
            self.images.append((indices.cpu(), values.detach().float().cpu()))  # type: ignore[attr-defined]

    def prepare(self, context: EvalContext) -> None:
        """Keep only the first ``2 · pairs`` generated images."""
        self.limit = 2 * (self.pairs or context.pairs)

    def descriptor(self) -> dict[str, Any]:
        sha = None
        if self.weights is not None and Path(self.weights).is_file():
            sha = hashlib.sha256(Path(self.weights).read_bytes()).hexdigest()
        return {"weights_sha256": sha, "random_trunk_allowed": not self.pretrained}

    def compute(self, context: EvalContext | None = None) -> Results:
        from gan_regularizers.metrics.lpips_diversity import lpips_diversity

        context = context or EvalContext()
        wanted = self.pairs or context.pairs
        pool = _in_sample_order(self.images)[: 2 * wanted]  # type: ignore[attr-defined]
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
        return Results({self.name: result})


class ModeCoverageMetric(Metric):
    """Classes covered by a classifier's predictions and their KL to uniform.

    Args:
        classifier: a registered feature space with ``predict(images)`` (``-1`` for a sample it
            rejects) and ``num_classes`` (default ``mnist-evaluator``, declared where ``modes``
            is registered).
        resamples: bootstrap resamples for the KL interval.
        **options: options of the classifier's feature space.

    Results: ``modes`` (classes covered, a count: no interval), ``modes-accepted`` (fraction
    accepted as a class, 95 % Wilson interval, inside [0, 1]) and ``modes-kl`` (KL of the class
    histogram to uniform, 95 % bias-corrected bootstrap interval clipped at 0).
    """

    name = "modes"

    def __init__(
        self, classifier: str = "mnist-evaluator", resamples: int = 200, **options: Any
    ) -> None:
        super().__init__(classifier=classifier, **options)
        self.classifier, self.resamples, self.classifier_options = classifier, resamples, options
        self._network: Any = None
        self._local_count = 0
        self.add_state("predictions", [], dist_reduce_fx="cat")

    def reset(self) -> None:
        super().reset()
        self._local_count = 0

    def build(self) -> Any:
        if self._network is None:
            from gan_regularizers.plugin_system.registry import get_feature_space

            self._network = get_feature_space(self.classifier, **self.classifier_options)
        return self._network

    def descriptor(self) -> dict[str, Any]:
        return module_descriptor(self.build())

    def update(
        self, values: torch.Tensor, *, real: bool = False, indices: torch.Tensor | None = None
    ) -> None:
        """Classify a batch of generated images (real ones are not used)."""
        if real:
            return
        if indices is None:
            indices = _next_indices(self, len(values))
        classifier = self.build()
        labels = classifier.predict(values.to(module_device(classifier))).cpu()
        self.predictions.append((indices.cpu(), labels))  # type: ignore[attr-defined]

    def compute(self, context: EvalContext | None = None) -> Results:
        from gan_regularizers.metrics.mode_coverage import class_coverage

        context = context or EvalContext()
        predictions = _in_sample_order(self.predictions)  # type: ignore[attr-defined]
        num_classes = int(self.build().num_classes)
        coverage = class_coverage(predictions, num_classes)
        n = int(predictions.numel())
        protocol = {
            "classifier": self.descriptor(),
            "histogram": coverage.histogram,
            "num_classes": num_classes,
        }
        low, high = kl_interval(predictions, num_classes, context.seed, self.resamples)
        kl_method = (
            f"95% bias-corrected bootstrap over samples, {self.resamples} resamples: the "
            "percentile interval shifted by the bootstrap bias estimate, clipped at 0 "
            "(sampling interval)"
        )
        return Results({
            "modes": MetricResult("modes", float(coverage.covered), None, None, None, n,
                                  {**protocol, "interval": "none (a count)"}),
            "modes-accepted": MetricResult(
                "modes-accepted", coverage.accepted, *wilson_interval(coverage.accepted, n),
                None, n, {**protocol, "interval": "95% Wilson score interval (sampling interval)"}),
            "modes-kl": MetricResult("modes-kl", coverage.kl_to_uniform, low, high, None, n,
                                     {**protocol, "interval": kl_method}),
        })  # fmt: skip


def kl_interval(
    predictions: torch.Tensor, num_classes: int, seed: int, resamples: int = 200
) -> tuple[float, float]:
    """Bias-corrected 95 % bootstrap interval of the plug-in KL to uniform.

    The plug-in ``KL(p̂ ‖ u)`` is biased upward (a finite histogram is less even than its
    distribution), and its bootstrap replicates ``KL*`` more so, by about the same amount
    ``b = mean(KL*) − KL``. A percentile interval of ``KL*`` then lies above the estimate;
    ``[q₀.₀₂₅(KL*) − b, q₀.₉₇₅(KL*) − b]``, clipped at 0 (a KL is ≥ 0), is centred on it.
    """
    from gan_regularizers.metrics.mode_coverage import class_coverage

    estimate = class_coverage(predictions, num_classes).kl_to_uniform
    generator = torch.Generator().manual_seed(seed)
    values = []
    for _ in range(resamples):
        index = torch.randint(predictions.numel(), (predictions.numel(),), generator=generator)
        values.append(class_coverage(predictions[index], num_classes).kl_to_uniform)
    replicates = torch.tensor(values, dtype=torch.float64)
    bias = float(replicates.mean()) - estimate
    low, high = torch.quantile(
        replicates, torch.tensor([0.025, 0.975], dtype=torch.float64)
    ).tolist()
    return max(0.0, low - bias), max(0.0, high - bias)


def wilson_interval(fraction: float, n: int, z: float = Z_975) -> tuple[float, float]:
    """95 % Wilson score interval of a binomial proportion ``fraction`` of ``n`` trials.

    ``(p̂ + z²/2n ± z·√(p̂(1 − p̂)/n + z²/4n²)) / (1 + z²/n)``; at ``p̂ = 0`` the lower end is
    exactly 0 and at ``p̂ = 1`` the upper end exactly 1 (in floating point they miss by ~1e-20).
    """
    centre = (fraction + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(fraction * (1 - fraction) / n + z * z / (4 * n * n))
    low = 0.0 if fraction <= 0 else max(0.0, centre - half)
    high = 1.0 if fraction >= 1 else min(1.0, centre + half)
    return low, high
