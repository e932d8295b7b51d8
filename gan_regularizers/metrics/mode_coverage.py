"""Mode coverage: how many modes of the data a generator reaches, and how evenly.

* Classes (mnist5k): a classifier labels N generated images; ``covered`` = classes predicted at
  least ``min_count`` times; ``KL(p̂ ‖ uniform) = Σ_c p̂_c log(p̂_c · K)`` over the K classes
  (0 when every class is equally frequent, ``log K`` when one class takes everything). A
  classifier that rejects non-digits labels them ``-1``: they count in ``accepted`` (the fraction
  of samples accepted as digits) and nowhere else; with no accepted sample the KL is ``log K``.
* 2-D mixtures (the protocol of Unrolled GAN and VEEGAN): a sample is *high quality* when it lies
  within ``3σ`` of its nearest mixture centre; a mode is *covered* when at least one
  high-quality sample is nearest to it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from gan_regularizers.errors import MetricError


@dataclass
class ClassCoverage:
    """Classes covered out of ``num_classes``, the KL to uniform, and the class histogram."""

    covered: int
    num_classes: int
    kl_to_uniform: float
    histogram: list[int]
    accepted: float = 1.0


@dataclass
class MixtureCoverage:
    """Modes covered out of ``num_modes`` and the fraction of high-quality samples."""

    covered: int
    num_modes: int
    high_quality_fraction: float


def class_coverage(
    predictions: torch.Tensor, num_classes: int = 10, min_count: int = 1
) -> ClassCoverage:
    """Coverage and ``KL(histogram ‖ uniform)`` of predicted class labels (``-1``: rejected)."""
    labels = predictions.reshape(-1).long().cpu()
    if labels.numel() == 0:
        raise MetricError("no predictions: generate at least one image.")
    if int(labels.min()) < -1 or int(labels.max()) >= num_classes:
        raise MetricError(
            f"predicted labels must be in [0, {num_classes}) or -1 (rejected), got "
            f"[{int(labels.min())}, {int(labels.max())}]."
        )
    accepted = labels[labels >= 0]
    histogram = torch.bincount(accepted, minlength=num_classes).double()
    kl = math.log(num_classes)
    if accepted.numel():
        p = histogram / histogram.sum()
        nonzero = p > 0
        kl = float((p[nonzero] * torch.log(p[nonzero] * num_classes)).sum())
    covered = int((histogram >= min_count).sum())
    fraction = accepted.numel() / labels.numel()
    return ClassCoverage(covered, num_classes, kl, [int(v) for v in histogram.tolist()], fraction)


def ring_centres(modes: int = 8, radius: float = 2.0) -> torch.Tensor:
    """``modes`` centres evenly on a circle of ``radius`` (the ring-of-8 benchmark)."""
    angles = torch.arange(modes, dtype=torch.float64) * (2 * math.pi / modes)
    return torch.stack([radius * torch.cos(angles), radius * torch.sin(angles)], dim=1)


def grid_centres(side: int = 5, spacing: float = 2.0) -> torch.Tensor:
    """``side × side`` centres on a grid with ``spacing``, centred at 0 (the grid-of-25)."""
    offsets = (torch.arange(side, dtype=torch.float64) - (side - 1) / 2) * spacing
    x, y = torch.meshgrid(offsets, offsets, indexing="ij")
    return torch.stack([x.reshape(-1), y.reshape(-1)], dim=1)


def mixture_coverage(
    samples: torch.Tensor, centres: torch.Tensor, std: float, threshold: float = 3.0
) -> MixtureCoverage:
    """Modes covered and the high-quality fraction of 2-D ``samples`` for mixture ``centres``."""
    if samples.dim() != 2 or samples.shape[1] != centres.shape[1]:
        raise MetricError(
            f"samples must be N×{centres.shape[1]}, got shape {tuple(samples.shape)}."
        )
    distances = torch.cdist(samples.double().cpu(), centres.double().cpu())
    nearest_distance, nearest = distances.min(dim=1)
    good = nearest_distance <= threshold * std
    covered = int(torch.unique(nearest[good]).numel())
    return MixtureCoverage(covered, centres.shape[0], float(good.double().mean()))
