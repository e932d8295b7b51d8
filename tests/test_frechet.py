"""The Fréchet engine against scipy's sqrtm, closed forms and streaming float64 numpy."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from gan_regularizers.features.moments import FeatureMoments, frechet_distance, sqrtm_trace


def scipy_frechet(mu1, s1, mu2, s2) -> float:
    root = scipy.linalg.sqrtm(s1 @ s2)
    root = root.real if np.iscomplexobj(root) else root
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(root))


def random_covariance(d: int, seed: int, condition: float = 10.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    eigenvalues = np.geomspace(1.0, 1.0 / condition, d)
    return (q * eigenvalues) @ q.T


@pytest.mark.parametrize("d", [16, 256])
def test_agrees_with_scipy_sqrtm_on_well_conditioned_cases(d: int) -> None:
    rng = np.random.default_rng(d)
    s1, s2 = random_covariance(d, 1), random_covariance(d, 2)
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    expected = scipy_frechet(mu1, s1, mu2, s2)
    value = frechet_distance(*(torch.from_numpy(a) for a in (mu1, s1, mu2, s2)))
    assert value == pytest.approx(expected, rel=1e-6)


def test_closed_form_on_a_wide_rank_deficient_case() -> None:
    """Without scipy's slow sqrtm: covariances sharing eigenvectors Q,
    Σ₁ = Q diag(a) Qᵀ and Σ₂ = Q diag(b) Qᵀ, have tr √(Σ₁Σ₂) = Σᵢ √(aᵢ bᵢ) exactly."""
    d = 512
    rng = np.random.default_rng(7)
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    a, b = rng.uniform(0.1, 2.0, d), rng.uniform(0.0, 3.0, d)
    b[:50] = 0.0  # rank-deficient Σ₂
    s1, s2 = (q * a) @ q.T, (q * b) @ q.T
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    expected = float(((mu1 - mu2) ** 2).sum() + a.sum() + b.sum() - 2 * np.sqrt(a * b).sum())
    value = frechet_distance(*(torch.from_numpy(v) for v in (mu1, s1, mu2, s2)))
    # round-off eigenvalues ≈ ±1e-16·‖Σ‖ of the 50 zero directions add √1e-16 each: ~1e-9 rel
    assert value == pytest.approx(expected, rel=1e-8)


def test_equal_covariances_give_the_squared_mean_distance() -> None:
    s = torch.from_numpy(random_covariance(32, 3))
    mu1, mu2 = torch.zeros(32, dtype=torch.float64), torch.full((32,), 0.5, dtype=torch.float64)
    assert frechet_distance(mu1, s, mu2, s) == pytest.approx(32 * 0.25, rel=1e-9)


def test_identical_sets_give_zero_and_rank_deficient_cases_stay_finite() -> None:
    rng = np.random.default_rng(0)
    features = torch.from_numpy(rng.standard_normal((10, 64)))  # n < d: rank 9
    stats = FeatureMoments().update(features).statistics()
    same = frechet_distance(stats.mean, stats.covariance, stats.mean, stats.covariance)
    assert same == pytest.approx(0.0, abs=1e-9)
    constant = FeatureMoments().update(torch.ones(5, 64)).statistics()  # rank 0
    value = frechet_distance(stats.mean, stats.covariance, constant.mean, constant.covariance)
    assert np.isfinite(value)
    expected = float(((stats.mean - 1) ** 2).sum() + torch.trace(stats.covariance))
    assert value == pytest.approx(expected, rel=1e-9)  # tr√(Σ·0) = 0


def test_sqrtm_trace_of_diagonal_matrices() -> None:
    a = torch.diag(torch.tensor([4.0, 9.0, 0.0], dtype=torch.float64))
    b = torch.diag(torch.tensor([1.0, 4.0, 5.0], dtype=torch.float64))
    assert float(sqrtm_trace(a, b)) == pytest.approx(2 + 6 + 0)


@pytest.mark.parametrize("batch", [1, 7, 100])
def test_streaming_moments_equal_numpy_float64(batch: int) -> None:
    rng = np.random.default_rng(1)
    features = rng.standard_normal((100, 12)) * 3 + 1000.0  # a large mean
    moments = FeatureMoments()
    for chunk in torch.from_numpy(features).float().split(batch):
        moments.update(chunk)
    reference = features.astype(np.float32).astype(np.float64)
    np.testing.assert_allclose(moments.mean.numpy(), reference.mean(0), rtol=1e-12)
    np.testing.assert_allclose(moments.covariance.numpy(), np.cov(reference.T), rtol=1e-9)


def test_fewer_than_two_samples_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        FeatureMoments().update(torch.ones(1, 4)).covariance  # noqa: B018


def test_mismatched_dimensions_are_an_error() -> None:
    a = FeatureMoments().update(torch.randn(4, 3)).statistics()
    b = FeatureMoments().update(torch.randn(4, 5)).statistics()
    with pytest.raises(ValueError, match="same feature space"):
        frechet_distance(a.mean, a.covariance, b.mean, b.covariance)
