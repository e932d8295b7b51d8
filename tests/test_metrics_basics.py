"""Quantisation, bootstrap intervals, pair sampling, and LPIPS diversity vs the lpips package."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from gan_regularizers.checks.quantize import to_uint8
from gan_regularizers.features.weights import WeightsUnavailableError
from gan_regularizers.metrics.bootstrap import bootstrap_interval
from gan_regularizers.metrics.lpips_diversity import (
    build_lpips,
    lpips_diversity,
    sample_pairs,
)


def test_quantiser_rounds_and_clamps_the_edge_values() -> None:
    values = torch.tensor([-1.0, -1.005, 1.0, 1.004, 0.999, -0.999, 0.0, 1 / 255])
    images = values.view(1, 1, 1, -1).expand(1, 3, 1, -1)
    quantised = to_uint8(images)[0, 0, 0].tolist()
    # (x + 1) / 2 * 255 rounded: 0.999 -> 254.87 -> 255 (not 254), -0.999 -> 0.13 -> 0
    assert quantised == [0, 0, 255, 255, 255, 0, 128, 128]
    assert to_uint8(images).dtype == torch.uint8


def test_quantiser_refuses_values_far_outside_the_range() -> None:
    with pytest.raises(ValueError, match=r"outside the declared input range \[-1, 1\]"):
        to_uint8(torch.full((1, 3, 2, 2), 1.5))
    with pytest.raises(ValueError, match="NaN"):
        to_uint8(torch.full((1, 3, 2, 2), float("nan")))


def test_quantiser_in_zero_one_range() -> None:
    images = torch.tensor([0.0, 0.5, 1.0]).view(1, 1, 1, 3).expand(1, 3, 1, 3)
    assert to_uint8(images, input_range=(0.0, 1.0))[0, 0, 0].tolist() == [0, 128, 255]


def test_bootstrap_interval_matches_a_numpy_bootstrap() -> None:
    rng = np.random.default_rng(0)
    values = torch.from_numpy(rng.normal(2.0, 1.0, 400))
    low, high = bootstrap_interval(values, resamples=2000, seed=1)
    means = [rng.choice(values.numpy(), 400).mean() for _ in range(2000)]
    np_low, np_high = np.quantile(means, [0.025, 0.975])
    assert low < float(values.mean()) < high
    assert low == pytest.approx(np_low, abs=0.02) and high == pytest.approx(np_high, abs=0.02)
    standard_error = float(values.std()) / 20
    assert high - low == pytest.approx(2 * 1.96 * standard_error, rel=0.1)


def test_pairs_are_distinct_without_self_pairs_and_seeded() -> None:
    first, second = sample_pairs(20, 150, seed=3)
    assert (first != second).all()
    assert len({(int(a), int(b)) for a, b in zip(first, second, strict=True)}) == 150
    again = sample_pairs(20, 150, seed=3)
    assert torch.equal(first, again[0]) and torch.equal(second, again[1])
    everything = sample_pairs(5, 10, seed=0)  # all 10 pairs of 5 items
    assert len({(int(a), int(b)) for a, b in zip(*everything, strict=True)}) == 10


def test_more_pairs_than_available_is_an_error() -> None:
    with pytest.raises(ValueError, match="only 10 distinct pairs"):
        sample_pairs(5, 11)


@pytest.fixture(scope="module")
def random_lpips() -> torch.nn.Module:
    torch.manual_seed(0)
    with pytest.warns(UserWarning, match="randomly initialised AlexNet"):
        return build_lpips(pretrained=False)


def test_lpips_diversity_equals_a_direct_loop_over_the_lpips_package(random_lpips) -> None:
    torch.manual_seed(1)
    images = torch.rand(12, 3, 32, 32) * 2 - 1
    result = lpips_diversity(images, pairs=20, seed=5, batch_size=7, model=random_lpips)
    first, second = sample_pairs(12, 20, seed=5)
    direct = [
        float(random_lpips(images[i : i + 1], images[j : j + 1]))
        for i, j in zip(first.tolist(), second.tolist(), strict=True)
    ]
    assert result.value == pytest.approx(np.mean(direct), rel=1e-4)
    assert result.low <= result.value <= result.high
    assert result.protocol["trunk"] == "random initialisation (not LPIPS)"
    one = lpips_diversity(images, pairs=20, seed=5, batch_size=1, model=random_lpips)
    assert one.value == pytest.approx(result.value, rel=1e-5)  # batch-size independent


def test_the_old_lpips_spellings_are_gone() -> None:
    with pytest.warns(UserWarning, match="randomly initialised AlexNet"):
        model = build_lpips(pretrained=False)
    assert model.trunk_source == "random initialisation (not LPIPS)"
    for old in ("allow_random_backbone", "backbone_weights"):
        with pytest.raises(TypeError, match=old):
            build_lpips(**{old: True})


def test_lpips_diversity_checks_its_input(random_lpips) -> None:
    with pytest.raises(ValueError, match="outside the declared input range"):
        lpips_diversity(torch.rand(4, 3, 32, 32) * 255, pairs=2, model=random_lpips)
    with pytest.raises(ValueError, match="at least 32×32"):
        lpips_diversity(torch.rand(4, 3, 16, 16) * 2 - 1, pairs=2, model=random_lpips)
    gray = torch.rand(4, 1, 32, 32) * 2 - 1
    result = lpips_diversity(gray, pairs=3, model=random_lpips)  # repeated to RGB
    assert result.value > 0


def test_random_trunk_is_refused_offline_unless_requested(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("GAN_REGULARIZERS_OFFLINE", "1")
    with pytest.raises(WeightsUnavailableError, match="weights="):
        build_lpips()


def test_trunk_weights_load_from_a_local_file(tmp_path: Path, random_lpips) -> None:
    import torchvision

    torch.manual_seed(3)
    alexnet = torchvision.models.alexnet()
    path = tmp_path / "alexnet.pth"
    torch.save(alexnet.state_dict(), path)
    model = build_lpips(weights=path)
    torch.testing.assert_close(model.net.slice1[0].weight, alexnet.features[0].weight)
    torch.testing.assert_close(model.net.slice5[0].bias, alexnet.features[10].bias)
    assert model.trunk_source == f"file {path}"
