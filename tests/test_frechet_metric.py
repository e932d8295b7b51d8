"""The fd: pipeline against float64 numpy, batch-size independence, the reference cache, and
the Inception space behind fid (offline error, local weights file)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import torch
from feature_modules import LinearFeatures, random_images

from gan_regularizers import get_feature_space
from gan_regularizers.features.weights import WeightsUnavailableError
from gan_regularizers.metrics.frechet import frechet_distance_between


def numpy_frechet(real: np.ndarray, fake: np.ndarray) -> float:
    mu1, mu2 = real.mean(0), fake.mean(0)
    s1, s2 = np.cov(real.T), np.cov(fake.T)
    root = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * root))


@pytest.fixture
def cache_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GAN_REGULARIZERS_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_fd_pipeline_equals_float64_numpy_on_the_same_features(cache_folder: Path) -> None:
    space = LinearFeatures()
    real, fake = random_images(60), random_images(50, seed=1) * 0.8
    result = frechet_distance_between(space, real, fake, batch_size=16, progress=False)
    with torch.no_grad():
        expected = numpy_frechet(space(real).double().numpy(), space(fake).double().numpy())
    assert result.value == pytest.approx(expected, rel=1e-6)
    assert (result.n_real, result.n_fake) == (60, 50)


def test_fd_is_batch_size_independent(cache_folder: Path) -> None:
    space = LinearFeatures()
    real, fake = random_images(30), random_images(25, seed=2)
    one = frechet_distance_between(space, real, fake, batch_size=1, cache=False, progress=False)
    many = frechet_distance_between(space, real, fake, batch_size=25, cache=False, progress=False)
    assert one.value == pytest.approx(many.value, rel=1e-5)


def test_reference_statistics_cache_hits_and_misses(cache_folder: Path) -> None:
    space = LinearFeatures()
    real, fake = random_images(20), random_images(20, seed=4)
    first = frechet_distance_between(space, real, fake, progress=False)
    calls = space.calls
    second = frechet_distance_between(space, real.flip(0), fake, batch_size=64, progress=False)
    assert space.calls == calls + 1  # only the fakes ran: the reference hit the cache
    assert second.value == pytest.approx(first.value, rel=1e-9)
    changed = real.clone()
    changed[0, 0, 0, 0] = 0.5
    frechet_distance_between(space, changed, fake, progress=False)
    assert len(list(cache_folder.glob("frechet-*.pt"))) == 2  # a changed dataset misses


def test_fewer_than_two_images_is_an_error(cache_folder: Path) -> None:
    with pytest.raises(ValueError, match="at least 2"):
        frechet_distance_between(LinearFeatures(), random_images(5), random_images(1))


def test_inception_offline_without_weights_fails_fast(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("GAN_REGULARIZERS_OFFLINE", "1")
    with pytest.raises(WeightsUnavailableError, match=r"In a spec \(CLI, TOML\): fid:weights=FILE"):
        get_feature_space("inception")


@pytest.fixture(scope="module")
def random_inception_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised torch-fidelity Inception state dict saved to a local file."""
    import torch_fidelity.feature_extractor_inceptionv3 as module

    original_load = module.FeatureExtractorInceptionV3.load_state_dict
    original_fetch = module.load_state_dict_from_url
    module.FeatureExtractorInceptionV3.load_state_dict = lambda self, *a, **k: None
    module.load_state_dict_from_url = lambda *a, **k: {}
    try:
        torch.manual_seed(0)
        extractor = module.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    finally:
        module.FeatureExtractorInceptionV3.load_state_dict = original_load
        module.load_state_dict_from_url = original_fetch
    path = tmp_path_factory.mktemp("inception") / "inception-random.pth"
    torch.save(extractor.state_dict(), path)
    return path


def test_inception_space_from_a_local_file(random_inception_file: Path) -> None:
    space = get_feature_space("inception", weights=random_inception_file)
    images = random_images(3, seed=7).repeat(1, 1, 16, 16)  # 3×32×32
    features = space(images)
    assert features.shape == (3, 2048) and features.dtype == torch.float32
    assert space.descriptor["weights_sha256"] and space.descriptor["input_size"] == 299
    # features depend only on the uint8 image: less than half a level of change is invisible
    levels = ((images + 1) / 2 * 255).round()
    on_levels = levels / 255 * 2 - 1
    nudged = on_levels + 0.4 * (2 / 255) * torch.sign(torch.randn_like(on_levels))
    torch.testing.assert_close(space(nudged.clamp(-1.004, 1.004)), space(on_levels))
    single = torch.cat([space(images[i : i + 1]) for i in range(3)])
    torch.testing.assert_close(single, features, rtol=1e-5, atol=1e-5)


def test_statistics_from_another_space_are_never_applied(cache_folder: Path) -> None:
    import torch as _torch

    from gan_regularizers.metrics.frechet import reference_statistics

    space = LinearFeatures()
    real = random_images(12)
    first = reference_statistics(space, real, progress=False)
    (entry,) = cache_folder.glob("frechet-*.pt")
    payload = _torch.load(entry, weights_only=True)
    payload["descriptor"] = {"backbone": "something else"}
    payload["mean"] = payload["mean"] + 100.0  # poisoned values that must not be used
    _torch.save(payload, entry)
    again = reference_statistics(space, real, progress=False)
    torch.testing.assert_close(again.mean, first.mean)  # recomputed, not taken from the file


def test_bad_images_are_clear_errors_in_metrics() -> None:
    from gan_regularizers.checks.quantize import to_uint8
    from gan_regularizers.metrics.lpips_diversity import lpips_diversity

    with pytest.raises(ValueError, match="rank 3"):
        lpips_diversity(torch.zeros(3, 32, 32), pairs=1)
    with pytest.raises(ValueError, match="4 channels"):
        to_uint8(torch.zeros(2, 4, 8, 8))
