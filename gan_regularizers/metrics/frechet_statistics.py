"""Fréchet distance from stored statistics: ``(mu, sigma)`` pairs and ``.npz`` files.

Other tools store a reference set as its Gaussian statistics: pytorch-fid's ``--save-stats``
and torch-fidelity write ``.npz`` files with the arrays ``mu`` (``d``) and ``sigma`` (``d×d``).
``frechet_distance_from_statistics`` takes either side as such a file, a ``(mu, sigma)``
pair (tensors or arrays) or ``GaussianStatistics``, and
computes ``FD = ‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr √(Σ₁Σ₂)`` with the package's one trace
(``frechet_from_moments``, float64). A number from
statistics has no interval: the samples behind them are gone.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from gan_regularizers.errors import MetricError
from gan_regularizers.features.moments import GaussianStatistics
from gan_regularizers.metrics.frechet_trace import frechet_from_moments
from gan_regularizers.metrics.result import MetricResult

StatisticsLike = str | os.PathLike[str] | tuple[Any, Any] | GaussianStatistics


def load_statistics(path: str | os.PathLike[str]) -> GaussianStatistics:
    """``mu`` and ``sigma`` of an ``.npz`` file (pytorch-fid / torch-fidelity keys), checked.

    Read with ``allow_pickle=False``: a file can hold arrays only, never code.
    """
    import numpy as np

    file = Path(path)
    if not file.is_file():
        raise MetricError(f"statistics file {file} does not exist; expected an .npz file.")
    try:
        with np.load(file, allow_pickle=False) as data:
            keys = set(data.files)
            if not {"mu", "sigma"} <= keys:
                raise MetricError(
                    f"{file} holds {sorted(keys)}, not the arrays 'mu' and 'sigma' that "
                    "pytorch-fid and torch-fidelity write; save them with "
                    "numpy.savez(path, mu=mean, sigma=covariance)."
                )
            mu, sigma = data["mu"], data["sigma"]
    except (OSError, ValueError) as error:
        raise MetricError(f"{file} is not a readable .npz file of statistics: {error}") from error
    return as_statistics((mu, sigma), str(file))


def as_statistics(value: StatisticsLike, what: str = "statistics") -> GaussianStatistics:
    """``GaussianStatistics`` from a file, a ``(mu, sigma)`` pair or statistics (checked)."""
    if isinstance(value, GaussianStatistics):
        mean, covariance, count = value.mean, value.covariance, value.count
    elif isinstance(value, str | os.PathLike):
        return load_statistics(value)
    elif isinstance(value, tuple | list) and len(value) == 2:
        mean, covariance, count = value[0], value[1], 0
    else:
        raise MetricError(
            f"{what}: expected an .npz path, a (mu, sigma) pair or GaussianStatistics, got "
            f"{type(value).__name__}."
        )
    mean = torch.as_tensor(mean).to("cpu", torch.float64)
    covariance = torch.as_tensor(covariance).to("cpu", torch.float64)
    d = mean.reshape(-1).shape[0]
    if mean.dim() != 1 or covariance.shape != (d, d):
        raise MetricError(
            f"{what}: mu must be a vector (d) and sigma a d×d matrix, got shapes "
            f"{tuple(mean.shape)} and {tuple(covariance.shape)}."
        )
    if not (torch.isfinite(mean).all() and torch.isfinite(covariance).all()):
        raise MetricError(f"{what}: mu or sigma contains NaN or Inf.")
    return GaussianStatistics(mean, covariance, count)


def frechet_distance_from_statistics(first: StatisticsLike, second: StatisticsLike) -> MetricResult:
    """Fréchet distance between two stored Gaussians (``.npz`` paths or ``(mu, sigma)`` pairs).

    ``FD = ‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr √(Σ₁Σ₂)`` in float64; no interval.
    """
    a, b = as_statistics(first, "first statistics"), as_statistics(second, "second statistics")
    if a.mean.shape != b.mean.shape:
        raise MetricError(
            f"the statistics have {a.mean.shape[0]} and {b.mean.shape[0]} dimensions: they "
            "come from different feature spaces; compare statistics of the same network."
        )
    value = frechet_from_moments(a.mean, a.covariance, b.mean, b.covariance)
    protocol = {
        "metric": "fd",
        "dimension": int(a.mean.shape[0]),
        "source": "stored statistics",
        "interval": "none (statistics only: the samples are not available)",
    }
    sources = [str(v) for v in (first, second) if isinstance(v, str | os.PathLike)]
    if sources:
        protocol["files"] = sources
    return MetricResult("fd", value, None, None, a.count or None, b.count or None, protocol)
