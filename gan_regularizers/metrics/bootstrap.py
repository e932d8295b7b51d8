"""Percentile bootstrap intervals for the mean of per-sample values."""

from __future__ import annotations

import torch


def bootstrap_interval(
    values: torch.Tensor, level: float = 0.95, resamples: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """``level`` percentile-bootstrap interval of ``mean(values)``.

    Resamples the ``n`` values with replacement ``resamples`` times (seeded), takes each mean, and
    returns the ``(1 − level)/2`` and ``(1 + level)/2`` quantiles of those means.
    """
    if values.numel() < 2:
        raise ValueError(f"a bootstrap interval needs at least 2 values, got {values.numel()}.")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}.")
    data = values.detach().to("cpu", torch.float64).reshape(-1)
    generator = torch.Generator().manual_seed(seed)
    means = torch.empty(resamples, dtype=torch.float64)
    for start in range(0, resamples, 100):
        count = min(100, resamples - start)
        index = torch.randint(data.numel(), (count, data.numel()), generator=generator)
        means[start : start + count] = data[index].mean(dim=1)
    tail = (1.0 - level) / 2
    low, high = torch.quantile(means, torch.tensor([tail, 1.0 - tail], dtype=torch.float64))
    return float(low), float(high)
