"""The 2-D mixtures: the ``mixture`` dataset, the ``mixture-coverage`` metric, and the mixtures
study trained and scored through the package's own ``study.run``.

References are float64 numpy computations written from the protocol (docs/experiments.md):
ring of 8 on radius 2, grid of 5×5 with spacing 2, σ = 0.02, scales 2.5 and 5, 3σ threshold.
"""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Subset

from gan_regularizers import metrics, study
from gan_regularizers.data.sources import load_dataset
from gan_regularizers.errors import DataSpecError, MetricError
from gan_regularizers.metrics.defaults import default_metrics
from gan_regularizers.metrics.mode_coverage import mixture_coverage
from gan_regularizers.metrics.neutral import neutral_metrics
from gan_regularizers.plugin_system.registry import get_feature_space, get_metric
from gan_regularizers.study.schema import parse_study
from gan_regularizers.training.run_loading import load_run

REPO = Path(__file__).resolve().parents[1]
STD = 0.02
SCALES = {"ring8": 2.5, "grid25": 5.0}


def numpy_centres(name: str) -> np.ndarray:
    """The protocol's centres, unscaled: ring ``2(cos 2πk/8, sin 2πk/8)``; grid row-major
    ``(2(k // 5 − 2), 2(k mod 5 − 2))``."""
    k = np.arange(8 if name == "ring8" else 25, dtype=np.float64)
    if name == "ring8":
        return np.stack([2 * np.cos(2 * np.pi * k / 8), 2 * np.sin(2 * np.pi * k / 8)], axis=1)
    return np.stack([2 * (k // 5 - 2), 2 * (k % 5 - 2)], axis=1)


def numpy_coverage(samples: np.ndarray, centres: np.ndarray) -> tuple[int, float]:
    """``(modes covered, high-quality fraction)`` of unscaled ``samples``, by the protocol."""
    distances = np.sqrt(((samples[:, None, :] - centres[None, :, :]) ** 2).sum(-1))
    good = distances.min(1) <= 3 * STD
    return len(set(distances.argmin(1)[good].tolist())), float(good.mean())


def numpy_wilson(p: float, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def as_images(unscaled: np.ndarray, name: str) -> torch.Tensor:
    """Unscaled ``N×2`` points as the generator gives them: ``N×2×1×1`` divided by the scale."""
    return torch.as_tensor(unscaled / SCALES[name], dtype=torch.float32).reshape(-1, 2, 1, 1)


def score(samples: torch.Tensor, real: object, spec: str = "mixture-coverage") -> dict:
    return metrics.evaluate(samples, real, [spec]).metrics


# -- the dataset --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_each_component_has_its_centre_and_std_after_scaling(name: str) -> None:
    dataset = load_dataset(f"mixture:{name}", image_size=1)
    points = dataset.images.double().numpy().reshape(-1, 2)
    labels = dataset.labels.numpy()
    centres, scale = numpy_centres(name), SCALES[name]
    assert dataset.images.shape == (10_000, 2, 1, 1) and dataset.images.dtype == torch.float32
    assert np.abs(points).max() <= 1.0 and dataset.name == f"mixture:{name}"
    assert (dataset.channels, dataset.image_size) == (2, 1)
    assert np.array_equal(labels, np.arange(10_000) % len(centres))  # i mod K: balanced
    count = 10_000 // len(centres)
    for k, centre in enumerate(centres):
        mine = points[labels == k]
        assert len(mine) == count
        # the mean is within 5 standard errors, σ / scale / √n, of μ_k / scale
        assert np.abs(mine.mean(0) - centre / scale).max() < 5 * STD / scale / math.sqrt(count)
        # the sample std's relative standard error is about 1/√(2n): 2 % for 1,250, 3.5 % for 400
        assert np.allclose(mine.std(0, ddof=1), STD / scale, rtol=0.15)
    assert np.abs(points.mean(0)).max() < 0.01  # the mixtures are centred at 0


def test_the_points_are_the_seeded_draw_and_the_options_are_honoured() -> None:
    first = load_dataset("mixture:ring8:num_points=64,seed=3", image_size=1)
    again = load_dataset("mixture:ring8:num_points=64,seed=3", image_size=1)
    other = load_dataset("mixture:ring8:num_points=64,seed=4", image_size=1)
    assert len(first) == 64 and torch.equal(first.images, again.images)
    assert not torch.equal(first.images, other.images)
    generator = torch.Generator().manual_seed(3)
    noise = torch.randn(64, 2, generator=generator, dtype=torch.float64).numpy()
    expected = (numpy_centres("ring8")[np.arange(64) % 8] + STD * noise) / 2.5
    assert np.allclose(first.images.double().numpy().reshape(-1, 2), expected, atol=1e-7)
    image, label = first[9]
    assert image.shape == (2, 1, 1) and label == 1


def test_the_dataset_declares_its_mixture_and_metric() -> None:
    dataset = load_dataset("mixture:grid25:num_points=50", image_size=1)
    assert dataset.mixture.name == "grid25" and dataset.mixture.scale == 5.0
    assert dataset.mixture.std == STD
    assert np.allclose(dataset.mixture.centres.numpy(), numpy_centres("grid25"))
    assert default_metrics(dataset) == ["mixture-coverage"]
    # compare's neutral metric, when FD-DINOv2 cannot run, is the mixture's own coverage
    chosen, reason = neutral_metrics(dataset, dinov2_weights=str(Path("missing-dinov2.pth")))
    assert chosen == ["mixture-coverage"] and "mixture-coverage added as the neutral" in reason


@pytest.mark.parametrize(
    ("spec", "size", "expected"),
    [
        ("mixture:ring9", 1, r"unknown mixture 'ring9'; expected one of ring8, grid25"),
        ("mixture", 1, r"mixture needs a name: --data mixture:NAME"),
        (
            "mixture:ring8:num_points=0",
            1,
            r"num_points must be an integer ≥ 8, got 0.*accepts "
            r"num_points \(default 10,000\) and seed",
        ),
        ("mixture:grid25:num_points=24", 1, r"num_points must be an integer ≥ 25, got 24"),
        ("mixture:ring8:num_points=2.5", 1, r"num_points must be an integer ≥ 8, got 2.5"),
        ("mixture:ring8:seed=-1", 1, r"seed must be an integer ≥ 0, got -1"),
        ("mixture:ring8:seed=true", 1, r"seed must be an integer ≥ 0, got True"),
        ("mixture:ring8:points=5", 1, r"mixture accepts: name, num_points, seed"),
        ("mixture:ring8", 32, r"image_size must be 1, got 32\. Set image_size = 1"),
    ],
)
def test_bad_mixture_specs_say_what_is_accepted(spec: str, size: int, expected: str) -> None:
    with pytest.raises(DataSpecError, match=expected):
        load_dataset(spec, image_size=size)


def test_the_pixels_space_flattens_points_and_still_repeats_grayscale() -> None:
    pixels = get_feature_space("pixels")
    points = torch.tensor([[0.5, -0.25], [0.0, 1.0]]).reshape(2, 2, 1, 1)
    assert torch.equal(pixels(points), points.reshape(2, 2))
    gray = torch.full((1, 1, 2, 2), 0.5)
    assert pixels(gray).shape == (1, 12)  # 1 channel: repeated to 3, as before


# -- the metric ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_every_centre_once_covers_every_mode(name: str) -> None:
    centres = numpy_centres(name)
    results = score(as_images(centres, name), f"mixture:{name}:num_points=100")
    assert results["modes-covered"].value == len(centres)
    assert results["high-quality-fraction"].value == 1.0
    assert results["high-quality-fraction"].interval == pytest.approx(
        numpy_wilson(1.0, len(centres))
    )


def test_all_samples_at_one_centre_cover_one_mode() -> None:
    samples = np.repeat(numpy_centres("ring8")[3:4], 100, axis=0)
    results = score(as_images(samples, "ring8"), "mixture:ring8:num_points=16")
    assert results["modes-covered"].value == 1.0 and results["high-quality-fraction"].value == 1.0


def test_points_far_from_every_centre_are_not_high_quality() -> None:
    samples = np.tile([[0.0, -0.5]], (50, 1))  # 1.5 from the nearest mode, (0, −2)
    results = score(as_images(samples, "ring8"), "mixture:ring8:num_points=16")
    assert results["modes-covered"].value == 0.0 and results["high-quality-fraction"].value == 0.0
    low, high = results["high-quality-fraction"].interval
    assert low == 0.0 and high == pytest.approx(numpy_wilson(0.0, 50)[1])


def test_a_hand_counted_mixed_case() -> None:
    c = numpy_centres("ring8")
    samples = np.array([
        c[0] + [0.05, 0.0],    # 0.05 ≤ 0.06: high quality, mode 0
        c[0] + [0.07, 0.0],    # 0.07 > 0.06: not
        c[2] + [0.0, 0.059],   # high quality, mode 2
        c[2],                  # high quality, mode 2 again
        [0.0, 0.0],            # 2 from every mode: not
        c[5] + [0.03, 0.04],   # 0.05: high quality, mode 5
        c[7] + [0.05, 0.05],   # 0.0707: not
    ])  # fmt: skip
    results = score(as_images(samples, "ring8"), "mixture:ring8:num_points=16")
    fraction = results["high-quality-fraction"]
    assert results["modes-covered"].value == 3.0 and fraction.value == pytest.approx(4 / 7)
    assert numpy_coverage(samples, c) == (3, pytest.approx(4 / 7))
    direct = mixture_coverage(torch.as_tensor(samples), torch.as_tensor(c), STD)
    assert (direct.covered, direct.high_quality_fraction) == (3, pytest.approx(4 / 7))
    assert fraction.interval == pytest.approx(numpy_wilson(4 / 7, 7))
    assert fraction.n_fake == 7 and results["modes-covered"].low is None
    protocol = results["modes-covered"].protocol
    assert protocol["interval"] == "none (a count)" and protocol["mixture"]["name"] == "ring8"


def test_random_samples_match_the_numpy_reference_on_the_grid() -> None:
    rng = np.random.default_rng(0)
    samples = numpy_centres("grid25")[rng.integers(0, 25, 400)] + rng.normal(0, 0.04, (400, 2))
    samples[:40] = rng.uniform(-5, 5, (40, 2))
    covered, fraction = numpy_coverage(samples, numpy_centres("grid25"))
    assert 0.5 < fraction < 0.95 and covered > 15  # a non-trivial case
    results = score(as_images(samples, "grid25"), None, "mixture-coverage:mixture=grid25")
    assert results["modes-covered"].value == covered
    assert results["high-quality-fraction"].value == pytest.approx(fraction)


def test_the_mixture_is_read_through_subsets_and_loaders() -> None:
    dataset = load_dataset("mixture:grid25:num_points=100", image_size=1)
    centres = as_images(numpy_centres("grid25"), "grid25")
    for real in (Subset(dataset, range(50)), DataLoader(dataset, batch_size=10)):
        assert score(centres, real)["modes-covered"].value == 25.0


def test_the_metric_alone_takes_points_in_either_shape() -> None:
    metric = get_metric("mixture-coverage", mixture="ring8")
    centres = torch.as_tensor(numpy_centres("ring8") / 2.5, dtype=torch.float32)
    metric.update(centres[:4])  # B×2
    metric.update(centres[4:].reshape(4, 2, 1, 1), real=False)
    metric.update(torch.zeros(3, 2, 1, 1), real=True)  # real points are not scored
    results = metric.compute()
    assert results["modes-covered"].value == 8.0 and results["high-quality-fraction"].value == 1.0
    assert metric.spec == "mixture-coverage:mixture=ring8"
    metric.reset()
    with pytest.raises(MetricError, match="no generated images"):
        metric.compute()


@pytest.mark.parametrize(
    ("spec", "real", "expected"),
    [
        ("mixture-coverage:mixture=ring7", "tensor", r"unknown mixture 'ring7'.*ring8, grid25"),
        (
            "mixture-coverage",
            "tensor",
            r"does not know the mixture \(real data Tensor.*"
            r"mixture-coverage:mixture=ring8\|grid25",
        ),
        (
            "mixture-coverage:mixture=grid25",
            "mixture:ring8:num_points=16",
            r"mixture=grid25 but the real data is the ring8 mixture",
        ),
    ],
)
def test_bad_metric_inputs_say_what_to_do(spec: str, real: str, expected: str) -> None:
    reference = torch.zeros(4, 2, 1, 1) if real == "tensor" else real
    with pytest.raises(MetricError, match=expected):
        score(torch.full((8, 2, 1, 1), -0.5), reference, spec)


def test_images_that_are_not_points_are_refused() -> None:
    metric = get_metric("mixture-coverage", mixture="ring8")
    with pytest.raises(MetricError, match=r"scores 2-D points, B×2×1×1 \(or B×2\), got shape "):
        metric.update(torch.zeros(2, 3, 4, 4))


# -- the study ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_two_setups_of_the_mixtures_study_train_and_are_scored(tmp_path: Path) -> None:
    """The stored study file, cut to ring8's two centroid setups, seed 0, 3 steps, 200 samples."""
    raw = tomllib.loads((REPO / "experiments" / "mixtures" / "study.toml").read_text())
    kept = ("ring8/bce+centroid", "ring8/bce+centroid-per-class")
    raw |= {"seeds": [0], "lengths": [3]}
    raw["setups"] = {name: raw["setups"][name] for name in kept}
    raw["scoring"]["num_samples"] = 200
    raw["comparisons"] = [{"setup": kept[1], "baseline": kept[0], "family": "mixtures"}]
    summary = study.run(parse_study(raw), tmp_path / "out", progress=False)
    assert (summary["trained"], summary["failed"]) == (2, 0)
    runs = json.loads((tmp_path / "out" / "results.json").read_text())["runs"]
    assert {run["setup"] for run in runs} == set(kept)
    for run in runs:
        assert run["status"] == "done", run
        values = run["metrics"]
        assert set(values) == {"modes-covered", "high-quality-fraction"}
        # the study read the mixture from the run's data: naming it gives the same numbers
        loaded = load_run(tmp_path / "out" / run["run_folder"])
        again = metrics.evaluate(
            loaded.generator,
            "mixture:ring8",
            ["mixture-coverage:mixture=ring8"],
            num_samples=200,
            seed=0,
            latent_shape=(loaded.z_dim,),
        ).metrics
        assert {name: result.value for name, result in again.items()} == values
        # and the metric on this generator's points is the numpy protocol's
        with torch.no_grad():
            z = torch.randn(200, loaded.z_dim, generator=torch.Generator().manual_seed(1))
            points = loaded.generator(z)
        covered, fraction = numpy_coverage(
            points.double().numpy().reshape(-1, 2) * 2.5, numpy_centres("ring8")
        )
        mine = score(points, "mixture:ring8:num_points=16")
        assert mine["modes-covered"].value == covered
        assert mine["high-quality-fraction"].value == pytest.approx(fraction)


@pytest.mark.parametrize("n", [7, 50, 2500, 10**6])
def test_wilson_interval_ends_exactly_at_the_bounds_for_all_or_none(n: int) -> None:
    """At p̂ = 0 (or 1) the interval starts (ends) exactly there, so p̂ is never outside it."""
    from gan_regularizers.metrics.image_metrics import wilson_interval

    low, high = wilson_interval(0.0, n)
    assert low == 0.0 and high == pytest.approx(numpy_wilson(0.0, n)[1], rel=1e-12)
    low, high = wilson_interval(1.0, n)
    assert high == 1.0 and low == pytest.approx(numpy_wilson(1.0, n)[0], rel=1e-12)
