"""Metrics that judge a GAN, as a public API: ``from gan_regularizers import metrics``.

One object model (``Metric``, ``FeatureSpaceMetric``: declared states,
``update``/``compute``/``reset``, correct under ``torch.distributed``). The built-in classes
``FrechetDistance``, ``KernelDistance``, ``PrecisionRecallMetric``,
``DensityCoverageMetric`` call their functional twins on features (``N×d`` tensors or
arrays): ``frechet_distance``, ``kernel_distance``, ``precision_recall``,
``density_coverage``; stored statistics: ``frechet_distance_from_statistics``,
``load_statistics``. On images, by metric spec or object (the registry): ``evaluate``.
Over training seeds: ``seed_summary``. Importing this package is cheap; each name loads its
module on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "MetricResult": "gan_regularizers.metrics.result",
    "PrecisionRecall": "gan_regularizers.metrics.result",
    "DensityCoverage": "gan_regularizers.metrics.result",
    "SAMPLING_CAVEAT": "gan_regularizers.metrics.result",
    "frechet_distance": "gan_regularizers.metrics.frechet_features",
    "kernel_distance": "gan_regularizers.metrics.kernel",
    "precision_recall": "gan_regularizers.metrics.manifold",
    "density_coverage": "gan_regularizers.metrics.manifold",
    "Results": "gan_regularizers.metrics.result",
    "Metric": "gan_regularizers.metrics.base",
    "FeatureSpaceMetric": "gan_regularizers.metrics.base",
    "EvalContext": "gan_regularizers.metrics.base",
    "FrechetDistance": "gan_regularizers.metrics.feature_metrics",
    "KernelDistance": "gan_regularizers.metrics.feature_metrics",
    "PrecisionRecallMetric": "gan_regularizers.metrics.feature_metrics",
    "DensityCoverageMetric": "gan_regularizers.metrics.feature_metrics",
    "LpipsDiversityMetric": "gan_regularizers.metrics.image_metrics",
    "ModeCoverageMetric": "gan_regularizers.metrics.image_metrics",
    "frechet_distance_from_statistics": "gan_regularizers.metrics.frechet_statistics",
    "load_statistics": "gan_regularizers.metrics.frechet_statistics",
    "evaluate": "gan_regularizers.metrics.evaluation",
    "Evaluation": "gan_regularizers.metrics.evaluation",
    "SameSpaceWarning": "gan_regularizers.metrics.evaluation",
    "seed_summary": "gan_regularizers.metrics.seeds",
    "SeedSummary": "gan_regularizers.metrics.seeds",
    "metric_range": "gan_regularizers.metrics.seeds",
    "format_result": "gan_regularizers.metrics.formatting",
    "trace_sqrt_product": "gan_regularizers.metrics.frechet_trace",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    """Import the public objects (they need torch) on first access."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'gan_regularizers.metrics' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
