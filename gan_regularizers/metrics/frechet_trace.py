"""``tr √(Σ₁Σ₂)``, the expensive step of every Fréchet distance, fast and exact.

Three exact routes, chosen by what is at hand:

* **Cholesky** (covariances, one numerically positive definite): with ``Σ₁ = L Lᵀ``, ``Σ₁Σ₂`` is
  similar to the symmetric ``Lᵀ Σ₂ L``, so ``tr √(Σ₁Σ₂) = Σ √λᵢ(Lᵀ Σ₂ L)`` by one ``cholesky``
  (d³/3 flops) and one ``eigvalsh``: the fastest route at d = 2048.
* **Range root** (covariances, both singular, e.g. n < d): ``R = V_r Λ_r^½`` (d×r) from
  ``eigh(Σ₁)`` on its numerical range, then ``Σ √λᵢ(Rᵀ Σ₂ R)`` with an r×r ``eigvalsh``. Exact
  for rank-deficient covariances, never complex or NaN.
* **Factors** (features, n < d): with ``Σᵢ = AᵢAᵢᵀ``, ``Aᵢ = (Xᵢ − x̄ᵢ)ᵀ/√(nᵢ − 1)`` (d×nᵢ), the
  eigenvalues of ``Σ₁Σ₂`` are the squared singular values of ``A₁ᵀA₂`` (n₁×n₂), so
  ``tr √(Σ₁Σ₂) = Σ σᵢ(A₁ᵀA₂)``: cost O(d·n₁·n₂ + n³), no d×d matrix at all.

On the singular routes, eigenvalues at round-off level (``λ ≤ λ_max · d · ε``, numpy's
``matrix_rank`` tolerance) and negative ones are set to 0, so the ``d − rank`` zero eigenvalues
of a rank-deficient product add nothing (their square roots, ``√10⁻¹⁵ ≈ 3·10⁻⁸`` each, would
otherwise add up). Never ``eigvalsh(Σ₁ @ Σ₂)``: that product is not symmetric.
"""

from __future__ import annotations

import torch

from gan_regularizers.errors import MetricError


def _symmetric(matrix: torch.Tensor) -> torch.Tensor:
    return (matrix + matrix.T) / 2


def _sum_of_roots(eigenvalues: torch.Tensor) -> torch.Tensor:
    """``Σ √λ`` over the eigenvalues above the round-off tolerance ``λ_max · d · ε``."""
    tolerance = eigenvalues.max().clamp(min=0) * len(eigenvalues) * torch.finfo(torch.float64).eps
    return torch.where(eigenvalues > tolerance, eigenvalues, 0.0).sqrt().sum()


def _full_rank_cholesky(matrix: torch.Tensor) -> torch.Tensor | None:
    """``L`` with ``L Lᵀ = matrix`` when numerically full rank (pivots ``L_ii²`` above
    ``max L_ii² · d · ε``), else ``None`` (singular: take the symmetric-root route)."""
    factor, info = torch.linalg.cholesky_ex(matrix)
    if int(info) != 0:
        return None
    pivots = factor.diagonal() ** 2
    if pivots.min() <= pivots.max() * len(pivots) * torch.finfo(torch.float64).eps:
        return None
    return factor


def trace_sqrt_product(sigma1: torch.Tensor, sigma2: torch.Tensor) -> torch.Tensor:
    """``tr √(Σ₁Σ₂)`` in float64: Cholesky route, else the symmetric-root route."""
    sigma1 = _symmetric(sigma1.to(torch.float64))
    sigma2 = _symmetric(sigma2.to(torch.float64))
    for first, second in ((sigma1, sigma2), (sigma2, sigma1)):
        factor = _full_rank_cholesky(first)
        if factor is not None:
            inner = factor.T @ second @ factor
            return torch.linalg.eigvalsh(_symmetric(inner)).clamp(min=0).sqrt().sum()
    root = _range_root(sigma1)
    return _sum_of_roots(torch.linalg.eigvalsh(_symmetric(root.T @ sigma2 @ root)))


def _range_root(matrix: torch.Tensor) -> torch.Tensor:
    """``R`` (d×r) with ``R Rᵀ = matrix`` on its numerical range: ``V_r Λ_r^½`` by ``eigh``,
    keeping the r eigenvalues above ``λ_max · d · ε``. ``Rᵀ Σ₂ R`` (r×r) then has the nonzero
    eigenvalues of ``Σ₁Σ₂``, so the second eigen-solve is only r×r."""
    eigenvalues, eigenvectors = torch.linalg.eigh(matrix)
    tolerance = eigenvalues.max().clamp(min=0) * len(eigenvalues) * torch.finfo(torch.float64).eps
    keep = eigenvalues > tolerance
    return eigenvectors[:, keep] * eigenvalues[keep].sqrt()


class TraceAgainst:
    """``Σ₂ ↦ tr √(Σ₁Σ₂)`` for a fixed ``Σ₁``, factorised once (for the jackknife's 11 traces).

    ``Σ₁ = L Lᵀ`` by Cholesky when positive definite, else ``L = Σ₁^½`` (symmetric, by ``eigh``);
    then ``tr √(Σ₁Σ₂) = Σ √λᵢ(Lᵀ Σ₂ L)``.
    """

    def __init__(self, sigma1: torch.Tensor) -> None:
        sigma1 = _symmetric(sigma1.to(torch.float64))
        factor = _full_rank_cholesky(sigma1)
        self.singular = factor is None
        self.factor = factor if factor is not None else _range_root(sigma1)

    def __call__(self, sigma2: torch.Tensor) -> torch.Tensor:
        inner = self.factor.T @ sigma2.to(torch.float64) @ self.factor
        eigenvalues = torch.linalg.eigvalsh(_symmetric(inner))
        if self.singular:
            return _sum_of_roots(eigenvalues)
        return eigenvalues.clamp(min=0).sqrt().sum()


def centred_factor(features: torch.Tensor) -> torch.Tensor:
    """``A = (X − x̄)ᵀ / √(n − 1)`` (d×n, float64), so that ``A Aᵀ`` is the covariance."""
    values = features.to(torch.float64)
    return (values - values.mean(dim=0)).T / (values.shape[0] - 1) ** 0.5


def trace_sqrt_product_from_features(
    features1: torch.Tensor, features2: torch.Tensor
) -> torch.Tensor:
    """``tr √(Σ₁Σ₂)`` from the features themselves: ``Σ σᵢ(A₁ᵀA₂)`` (float64)."""
    product = centred_factor(features1).T @ centred_factor(features2)
    singular = torch.linalg.svdvals(product)
    tolerance = singular.max() * max(product.shape) * torch.finfo(torch.float64).eps
    return torch.where(singular > tolerance, singular, 0.0).sum()


def frechet_from_moments(
    mean1: torch.Tensor,
    cov1: torch.Tensor,
    mean2: torch.Tensor,
    cov2: torch.Tensor,
    trace: TraceAgainst | None = None,
) -> float:
    """``‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr √(Σ₁Σ₂)``, clamped at 0 against round-off.

    ``trace``: a ``TraceAgainst`` of ``cov1`` to reuse its factorisation.
    """
    if mean1.shape != mean2.shape or cov1.shape != cov2.shape:
        raise MetricError(
            f"statistics of different dimension: {tuple(mean1.shape)} vs {tuple(mean2.shape)}; "
            "both sets must be measured in the same feature space."
        )
    difference = mean1.to(torch.float64) - mean2.to(torch.float64)
    cov1, cov2 = cov1.to(torch.float64), cov2.to(torch.float64)
    value = (
        difference.dot(difference)
        + torch.trace(cov1)
        + torch.trace(cov2)
        - 2 * (trace(cov2) if trace is not None else trace_sqrt_product(cov1, cov2))
    )
    return max(float(value), 0.0)
