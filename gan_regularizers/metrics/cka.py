"""Linear centred kernel alignment (Kornblith et al., 2019): how similar two feature spaces are.

For features ``X`` (``n×d₁``) and ``Y`` (``n×d₂``) of the same ``n`` images, centred per column:

``CKA(X, Y) = ‖Yᵀ X‖_F² / (‖Xᵀ X‖_F · ‖Yᵀ Y‖_F)``

1 for spaces equal up to rotation and isotropic scaling, near 0 for unrelated ones. The package
uses it to measure that an evaluation space is independent of a regularizer's space.
"""

from __future__ import annotations

import torch

from gan_regularizers.errors import MetricError


def linear_cka(first: torch.Tensor, second: torch.Tensor) -> float:
    """Linear CKA of two feature matrices of the same images, in float64.

    Raises:
        ValueError: the row counts differ or fewer than 2 rows are given.
    """
    if first.ndim != 2 or second.ndim != 2 or first.shape[0] != second.shape[0]:
        raise MetricError(
            f"linear_cka needs two n×d feature matrices of the same n images, got shapes "
            f"{tuple(first.shape)} and {tuple(second.shape)}."
        )
    if first.shape[0] < 2:
        raise MetricError("linear_cka needs features of at least 2 images.")
    x = first.double() - first.double().mean(dim=0)
    y = second.double() - second.double().mean(dim=0)
    cross = torch.linalg.matrix_norm(y.T @ x) ** 2
    norms = torch.linalg.matrix_norm(x.T @ x) * torch.linalg.matrix_norm(y.T @ y)
    return float(cross / norms)
