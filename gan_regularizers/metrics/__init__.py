"""Metrics that judge a GAN, as a public API: ``from gan_regularizers import metrics``.

On features (``N×d`` tensors or arrays), each returning :class:`MetricResult` (or a pair of them):
:func:`frechet_distance`, :func:`kernel_distance`, :func:`precision_recall`,
:func:`density_coverage`. Stateful, torchmetrics style (``update(images, real=...)``,
``compute()``, ``reset()``, correct under ``torch.distributed``): :class:`FrechetDistance`,
:class:`KernelDistance`, :class:`PrecisionRecallMetric`, :class:`DensityCoverageMetric`.
On images, by metric name (the registry): :func:`evaluate`. Over training seeds:
:func:`seed_summary`. Importing this package is cheap; each name loads its module on first use.
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
    "FrechetDistance": "gan_regularizers.metrics.stateful",
    "KernelDistance": "gan_regularizers.metrics.stateful",
    "PrecisionRecallMetric": "gan_regularizers.metrics.stateful",
    "DensityCoverageMetric": "gan_regularizers.metrics.stateful",
    "evaluate": "gan_regularizers.metrics.evaluation",
    "Evaluation": "gan_regularizers.metrics.evaluation",
    "SameSpaceWarning": "gan_regularizers.metrics.evaluation",
    "seed_summary": "gan_regularizers.metrics.seeds",
    "SeedSummary": "gan_regularizers.metrics.seeds",
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
