"""Feature-level metrics against torch-fidelity, scipy and float64 numpy from the papers."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from gan_regularizers import metrics
from gan_regularizers.metrics.frechet_trace import (
    trace_sqrt_product,
    trace_sqrt_product_from_features,
)


def features(n: int, d: int, seed: int, shift: float = 0.0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=generator, dtype=torch.float64) + shift


def numpy_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))


def numpy_radii(x: np.ndarray, k: int) -> np.ndarray:
    return np.sort(numpy_distances(x, x), axis=1)[:, k]  # column 0 is the point itself


def numpy_precision_recall(real: np.ndarray, fake: np.ndarray, k: int) -> tuple[float, float]:
    real_r, fake_r = numpy_radii(real, k), numpy_radii(fake, k)
    fake_to_real = numpy_distances(fake, real)
    precision = (fake_to_real <= real_r[None, :]).any(1).mean()
    recall = (fake_r[None, :] >= fake_to_real.T).any(1).mean()
    return float(precision), float(recall)


def numpy_density_coverage(real: np.ndarray, fake: np.ndarray, k: int) -> tuple[float, float]:
    radii = numpy_radii(real, k)
    inside = numpy_distances(real, fake) <= radii[:, None]  # real i × fake j
    density = inside.sum() / (k * fake.shape[0])
    coverage = inside.any(1).mean()
    return float(density), float(coverage)


def test_frechet_distance_equals_scipy() -> None:
    real, fake = features(300, 16, 0), features(200, 16, 1, shift=0.3)
    r, f = real.numpy(), fake.numpy()
    s1, s2 = np.cov(r.T), np.cov(f.T)
    expected = ((r.mean(0) - f.mean(0)) ** 2).sum() + np.trace(
        s1 + s2 - 2 * scipy.linalg.sqrtm(s1 @ s2).real
    )
    result = metrics.frechet_distance(real, fake.numpy())  # tensors or arrays
    assert result.value == pytest.approx(expected, rel=1e-10)
    assert result.low < result.value < result.high
    assert (result.n_real, result.n_fake) == (300, 200)
    assert "jackknife" in result.protocol["interval"]


@pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")
def test_trace_routes_are_exact_on_rank_deficient_covariances() -> None:
    a, b = features(20, 64, 2), features(30, 64, 3)  # n < d: both covariances singular
    s1, s2 = np.cov(a.numpy().T), np.cov(b.numpy().T)
    eigenvalues = np.linalg.eigvals(s1 @ s2).real
    eigenvalues[eigenvalues < 1e-10 * eigenvalues.max()] = 0  # rank ≤ 19: the rest is round-off
    expected = np.sqrt(eigenvalues).sum()
    assert float(trace_sqrt_product(torch.from_numpy(s1), torch.from_numpy(s2))) == pytest.approx(
        expected, rel=1e-8
    )
    assert float(trace_sqrt_product_from_features(a, b)) == pytest.approx(expected, rel=1e-8)
    full = np.cov(features(200, 64, 4).numpy().T)  # positive definite: the Cholesky route
    expected = np.trace(scipy.linalg.sqrtm(full @ s2).real)
    got = trace_sqrt_product(torch.from_numpy(full), torch.from_numpy(s2))
    assert float(got) == pytest.approx(expected, rel=1e-7)
    assert metrics.frechet_distance(a, a).value == pytest.approx(0.0, abs=1e-9)


def test_kernel_distance_equals_torch_fidelity_on_one_subset_of_everything() -> None:
    from torch_fidelity.metric_kid import kid_features_to_metric

    real, fake = features(120, 8, 5), features(120, 8, 6, shift=0.2)  # float64 in both
    ours = metrics.kernel_distance(real, fake, subsets=1, subset_size=120)
    theirs = kid_features_to_metric(
        fake,
        real,
        kid_subsets=1,
        kid_subset_size=120,
        kid_degree=3,
        kid_gamma=None,
        kid_coef0=1,
        kid_kernel="poly",
        rng_seed=0,
        verbose=False,
    )
    assert ours.value == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-6)
    assert ours.low is None and ours.protocol["subset_size"] == 120


def test_kernel_distance_is_the_unbiased_mmd_of_the_formula() -> None:
    real, fake = features(40, 5, 7), features(30, 5, 8, shift=0.5)
    x, y = real.numpy(), fake.numpy()
    kernel = lambda a, b: (a @ b.T / 5 + 1) ** 3  # noqa: E731
    kxx, kyy, kxy = kernel(x, x), kernel(y, y), kernel(x, y)
    m = 30  # subset_size is reduced to the smaller set; all 30 fake rows, 30 of 40 real
    result = metrics.kernel_distance(real, fake, subsets=20, subset_size=1000, seed=3)
    assert result.protocol["subset_size"] == m and result.n_real == 40
    generator = torch.Generator().manual_seed(3)
    values = []
    for _ in range(20):
        r = torch.randperm(40, generator=generator)[:m].numpy()
        f = torch.randperm(30, generator=generator)[:m].numpy()
        a, b, c = kxx[np.ix_(r, r)], kyy[np.ix_(f, f)], kxy[np.ix_(r, f)]
        within = (a.sum() - np.trace(a) + b.sum() - np.trace(b)) / (m * (m - 1))
        values.append(within - 2 * c.mean())
    assert result.value == pytest.approx(np.mean(values), rel=1e-10)
    assert result.low == pytest.approx(np.quantile(values, 0.025), rel=1e-10)


def test_precision_recall_equals_torch_fidelity_and_numpy() -> None:
    from torch_fidelity.metric_prc import prc_features_to_metric

    real, fake = features(150, 6, 9), features(130, 6, 10, shift=0.7)
    result = metrics.precision_recall(real, fake, k=3)
    theirs = prc_features_to_metric(
        fake.float(),
        real.float(),
        prc_neighborhood=3,
        prc_batch_size=10000,
        save_cpu_ram=False,
        verbose=False,
    )
    # the same samples counted (torch-fidelity returns its float32 mean)
    assert round(result.precision.value * 130) == round(theirs["precision"] * 130)
    assert round(result.recall.value * 150) == round(theirs["recall"] * 150)
    assert result.precision.value == pytest.approx(theirs["precision"], abs=1e-7)
    assert (result.precision.value, result.recall.value) == pytest.approx(
        numpy_precision_recall(real.numpy(), fake.numpy(), 3), abs=1e-12
    )
    assert 0 < result.precision.value < 1 and 0 < result.recall.value < 1
    assert result.precision.low <= result.precision.value <= result.precision.high


def test_density_coverage_equals_numpy_from_the_paper() -> None:
    real, fake = features(140, 6, 11), features(120, 6, 12, shift=0.5)
    result = metrics.density_coverage(real, fake, k=5)
    density, coverage = numpy_density_coverage(real.numpy(), fake.numpy(), 5)
    assert result.density.value == pytest.approx(density, abs=1e-12)
    assert result.coverage.value == pytest.approx(coverage, abs=1e-12)
    assert 0 < coverage < 1 and result.coverage.n_real == 140


def test_knn_chunks_do_not_change_the_answer() -> None:
    from gan_regularizers.metrics.knn import count_in_balls, kth_neighbour_radii

    real, fake = features(60, 4, 13), features(50, 4, 14)
    radii = kth_neighbour_radii(real, 3)
    small = count_in_balls(fake, real, radii, memory_bytes=8 * 60 * 3)  # 3 rows per chunk
    assert torch.equal(small, count_in_balls(fake, real, radii))
    torch.testing.assert_close(
        kth_neighbour_radii(real, 3, memory_bytes=1), radii, rtol=1e-13, atol=0
    )


def test_bad_feature_inputs_say_what_to_do() -> None:
    with pytest.raises(ValueError, match=r"N×d features .*reshape"):
        metrics.frechet_distance(torch.zeros(4, 2, 2), torch.zeros(4, 4))
    with pytest.raises(ValueError, match="at least 2 feature rows"):
        metrics.kernel_distance(torch.zeros(1, 3), torch.zeros(4, 3))
    with pytest.raises(ValueError, match="NaN or Inf"):
        metrics.precision_recall(torch.full((4, 3), float("nan")), torch.zeros(4, 3))
    with pytest.raises(ValueError, match="same feature space"):
        metrics.frechet_distance(torch.zeros(4, 3), torch.zeros(4, 5))
    with pytest.raises(ValueError, match="k must be in"):
        metrics.density_coverage(torch.randn(4, 3), torch.randn(4, 3), k=4)


def test_seed_summary_is_a_student_t_interval() -> None:
    from scipy import stats

    values = [3.1, 2.7, 3.4, 2.9, 3.3]
    summary = metrics.seed_summary(values)
    low, high = stats.t.interval(0.95, 4, loc=np.mean(values), scale=stats.sem(values))
    assert (summary.low, summary.high) == pytest.approx((low, high), rel=1e-12)
    assert summary.n == 5 and summary.mean == pytest.approx(np.mean(values))
    single = metrics.seed_summary([1.0])
    assert single.low is None and single.overlaps(summary)
    with pytest.raises(ValueError, match="at least one value"):
        metrics.seed_summary([])


def test_the_factor_route_jackknife_equals_the_moment_route() -> None:
    from gan_regularizers.features.moments import FeatureMoments
    from gan_regularizers.metrics.frechet_features import (
        fold_moments,
        jackknife_frechet,
        jackknife_frechet_features,
    )

    real, fake = features(30, 40, 15), features(25, 40, 16, shift=0.2)  # n < d: singular
    reference = FeatureMoments().update(real).statistics()
    by_moments = jackknife_frechet(reference, fold_moments(fake))
    by_factors = jackknife_frechet_features(real, fake)
    assert by_factors[:3] == pytest.approx(by_moments[:3], rel=1e-7)
    result = metrics.frechet_distance(real, fake)
    assert result.protocol["route"] == "factors (n < d)" and result.value == by_factors[0]
