"""The package's former Fréchet trace route, kept only as a benchmark peer.

``tr √(Σ₁Σ₂) = Σ √λᵢ(R Σ₂ R)`` with ``R = Σ₁^½`` by ``eigh`` (eigenvalues clamped at 0): the
symmetric route ``features/moments.py`` used before
``gan_regularizers.metrics.frechet_trace.trace_sqrt_product`` became the one implementation.
"""

from __future__ import annotations

import torch


def symmetric_root_trace(sigma1: torch.Tensor, sigma2: torch.Tensor) -> torch.Tensor:
    """``tr √(Σ₁Σ₂)`` by the symmetric root of ``Σ₁``, in float64."""
    sigma1, sigma2 = sigma1.to(torch.float64), sigma2.to(torch.float64)
    eigenvalues, eigenvectors = torch.linalg.eigh((sigma1 + sigma1.T) / 2)
    root = (eigenvectors * eigenvalues.clamp(min=0).sqrt()) @ eigenvectors.T
    inner = root @ sigma2 @ root
    return torch.linalg.eigvalsh((inner + inner.T) / 2).clamp(min=0).sqrt().sum()
