"""The Fréchet distance from statistics (pairs, stored .npz files) against scipy's sqrtm, closed
forms and streaming float64 numpy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import torch

from gan_regularizers import metrics
from gan_regularizers.errors import MetricError
from gan_regularizers.features.moments import FeatureMoments
from gan_regularizers.metrics.frechet_trace import trace_sqrt_product


def frechet_distance(mu1, s1, mu2, s2) -> float:
    """The public stored-statistics form on (mu, sigma) pairs."""
    return metrics.frechet_distance_from_statistics((mu1, s1), (mu2, s2)).value


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
    assert float(trace_sqrt_product(a, b)) == pytest.approx(2 + 6 + 0)


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
    with pytest.raises(MetricError, match="different feature spaces"):
        frechet_distance(a.mean, a.covariance, b.mean, b.covariance)


def test_npz_files_as_pytorch_fid_and_torch_fidelity_write_them(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    d = 24
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d) + 0.3
    s1, s2 = random_covariance(d, 4), random_covariance(d, 5, condition=50.0)
    np.savez(tmp_path / "a.npz", mu=mu1, sigma=s1)
    np.savez(tmp_path / "b.npz", mu=mu2.astype(np.float32), sigma=s2.astype(np.float32))
    expected = scipy_frechet(mu1, s1, mu2.astype(np.float32), s2.astype(np.float32))
    result = metrics.frechet_distance_from_statistics(tmp_path / "a.npz", str(tmp_path / "b.npz"))
    assert result.value == pytest.approx(expected, rel=1e-8)
    assert result.low is None and "statistics only" in result.protocol["interval"]
    assert result.protocol["files"] == [str(tmp_path / "a.npz"), str(tmp_path / "b.npz")]
    mixed = metrics.frechet_distance_from_statistics(tmp_path / "a.npz", (mu2, s2))
    assert mixed.value == pytest.approx(scipy_frechet(mu1, s1, mu2, s2), rel=1e-8)
    loaded = metrics.load_statistics(tmp_path / "a.npz")
    np.testing.assert_array_equal(loaded.mean.numpy(), mu1)
    assert loaded.covariance.dtype == torch.float64


def test_moments_of_features_and_a_stored_file_agree(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    real, fake = rng.standard_normal((300, 8)), rng.standard_normal((200, 8)) * 1.2 + 0.1
    np.savez(tmp_path / "real.npz", mu=real.mean(0), sigma=np.cov(real, rowvar=False))
    stored = metrics.frechet_distance_from_statistics(
        tmp_path / "real.npz", (fake.mean(0), np.cov(fake, rowvar=False))
    )
    assert stored.value == pytest.approx(metrics.frechet_distance(real, fake).value, rel=1e-9)


def test_bad_statistics_are_clear_errors(tmp_path: Path) -> None:
    np.savez(tmp_path / "wrong.npz", mean=np.zeros(3), cov=np.eye(3))
    with pytest.raises(MetricError, match=r"not the arrays 'mu' and 'sigma'"):
        metrics.load_statistics(tmp_path / "wrong.npz")
    with pytest.raises(MetricError, match="does not exist"):
        metrics.load_statistics(tmp_path / "missing.npz")
    np.savez(tmp_path / "pickled.npz", mu=np.array([object()]), sigma=np.eye(1))
    with pytest.raises(MetricError, match=r"not a readable \.npz"):  # allow_pickle=False
        metrics.load_statistics(tmp_path / "pickled.npz")
    with pytest.raises(MetricError, match=r"d×d"):
        metrics.frechet_distance_from_statistics((np.zeros(3), np.eye(4)), (np.zeros(3), np.eye(3)))
    with pytest.raises(MetricError, match="NaN"):
        metrics.frechet_distance_from_statistics(
            (np.full(2, np.nan), np.eye(2)), (np.zeros(2), np.eye(2))
        )
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(MetricError, match="not a readable"):
        metrics.load_statistics(tmp_path / "junk.npz")
