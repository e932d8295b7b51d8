"""The centroid's options, scale-free penalty, state checks and the bad inputs of issue 14."""

from __future__ import annotations

import dataclasses
import errno
import math
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from feature_modules import LinearFeatures, PointFeatures, points, random_images
from torch import nn
from torch.utils.data import TensorDataset

from gan_regularizers import CentroidLoss
from gan_regularizers.centroid.options import CentroidOptions
from gan_regularizers.errors import (
    CacheWarning,
    FeatureSpaceError,
    FitDataError,
    GanRegularizersError,
    ImageSizeError,
    InputRangeWarning,
    NotFittedError,
    StatisticsFileError,
)

SQUARE = points((-0.5, -0.5), (0.5, -0.5), (-0.5, 0.5), (0.5, 0.5))


class DescribedFeatures(LinearFeatures):
    def __init__(self, layer: str = "features.16") -> None:
        super().__init__()
        self.layer = layer

    @property
    def descriptor(self) -> dict:
        return {"backbone": "linear", "layer": self.layer}


class Pooled(nn.Module):
    """Per-channel means: the same 3-d features at any image size."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return images.mean(dim=(2, 3))


@pytest.fixture
def cache_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("GAN_REGULARIZERS_CACHE", str(folder))
    return folder


# -- options -----------------------------------------------------------------------------------
def test_options_are_one_frozen_dataclass_used_everywhere() -> None:
    loss = CentroidLoss(LinearFeatures(), weight=0.3, radius="quantile", q=0.5, progress=False)
    assert loss.options == CentroidOptions(weight=0.3, radius="quantile", q=0.5, progress=False)
    with pytest.raises(dataclasses.FrozenInstanceError):
        loss.options.q = 0.7  # type: ignore[misc]
    assert set(loss.options.file_options()) == set(CentroidOptions.names()) - {
        "memory_budget",
        "progress",
    }
    with pytest.raises(ValueError, match="weight must be"):
        loss.weight = -1.0
    loss.weight = 0.25
    assert loss.options.weight == 0.25 and loss.side == "generator"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"normalize": "l2"}, "normalize must be 'none'"),
        ({"warmup_steps": -1}, "warmup_steps must be an integer"),
        ({"memory_budget": -5}, "memory_budget must be an integer"),
        ({"projection": 0}, "projection must be a positive integer"),
        ({"per_class": True, "centers": 2}, "per_class=True sets one centre"),
    ],
)
def test_more_invalid_options(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CentroidLoss(LinearFeatures(), **options)


def test_paper_preset_keeps_the_raw_excess() -> None:
    with pytest.raises(ValueError, match="keeps the paper's raw excess"):
        CentroidOptions(preset="paper", normalize="d_ref")


# -- the scale-free penalty --------------------------------------------------------------------
@pytest.mark.parametrize("scale", [1.0, 0.01])
def test_normalize_d_ref_divides_the_excess_by_d_ref(scale: float) -> None:
    # c = (0, 0), d_ref = s·sqrt(0.5); fakes at distances s, 0, s: excess/d_ref = 1/sqrt(0.5) − 1
    real, fake = SQUARE * scale, points((1, 0), (0, 0), (0, -1)) * scale
    raw = CentroidLoss(PointFeatures(), weight=0.5, progress=False).fit(real)
    free = CentroidLoss(PointFeatures(), weight=0.5, normalize="d_ref", progress=False).fit(real)
    expected_free = 0.5 * 2 * (1 / math.sqrt(0.5) - 1) / 3
    expected_raw = 0.5 * 2 * scale * (1 - math.sqrt(0.5)) / 3
    assert free(fake.requires_grad_()).item() == pytest.approx(expected_free, rel=1e-5)
    assert raw(fake).item() == pytest.approx(expected_raw, rel=1e-5)


# -- the caller's module -----------------------------------------------------------------------
def test_a_callers_module_is_used_frozen_but_left_unchanged() -> None:
    torch.manual_seed(0)
    module = nn.Sequential(nn.Flatten(), nn.Linear(12, 4), nn.BatchNorm1d(4), nn.Dropout(0.5))
    module.train()
    loss = CentroidLoss(module, weight=1.0, progress=False).fit(random_images(16))
    fake = random_images(5, seed=2).requires_grad_()
    value = loss(fake)
    value.backward()
    assert module.training and all(layer.training for layer in module.modules())
    assert all(p.requires_grad and p.grad is None for p in module.parameters())
    assert fake.grad is not None and fake.grad.abs().sum() > 0
    module.eval()  # the features were the eval-mode ones (running BatchNorm stats, no dropout)
    with torch.no_grad():
        expected = module(random_images(5, seed=2))
    torch.testing.assert_close(loss.features(random_images(5, seed=2)), expected)
    assert loss.feature_space is module


def test_a_non_differentiable_space_is_refused() -> None:
    class Quantised(nn.Module):
        differentiable = False
        name = "quantised"

        def forward(self, images: torch.Tensor) -> torch.Tensor:
            return images.flatten(1)

    with pytest.raises(FeatureSpaceError, match="'quantised' feature space is not differentiable"):
        CentroidLoss(Quantised())


# -- bad data ----------------------------------------------------------------------------------
def test_fit_none_is_a_clear_error() -> None:
    with pytest.raises(FitDataError, match=r"fit\(\) got None; pass the real images"):
        CentroidLoss(LinearFeatures(), progress=False).fit(None)


def test_a_class_of_one_image_is_refused_naming_the_class() -> None:
    images = random_images(5)
    labels = torch.tensor([0, 0, 0, 7, 0])
    loss = CentroidLoss(LinearFeatures(), per_class=True, progress=False)
    with pytest.raises(FitDataError, match="class 7 has 1 image"):
        loss.fit(TensorDataset(images, labels))
    assert isinstance(FitDataError("x"), GanRegularizersError)


def test_zero_one_data_warns_with_the_fix() -> None:
    with pytest.warns(InputRangeWarning, match=r"x \* 2 - 1"):
        CentroidLoss(LinearFeatures(), progress=False).fit(random_images(8).abs())
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputRangeWarning)
        CentroidLoss(LinearFeatures(), progress=False).fit(random_images(8))


def test_fit_records_the_image_size_and_forward_refuses_another() -> None:
    loss = CentroidLoss(Pooled(), progress=False).fit(random_images(8).repeat(1, 1, 16, 16))
    assert loss.image_size.tolist() == [32, 32]
    with pytest.raises(ImageSizeError, match=r"64×64 but the statistics were fitted on 32×32"):
        loss(torch.zeros(2, 3, 64, 64, requires_grad=True))
    mixed = [random_images(4).repeat(1, 1, 2, 2), random_images(4, seed=1)]
    with pytest.raises(ImageSizeError, match="images of 4×4 and of 2×2"):
        CentroidLoss(Pooled(), progress=False).fit(mixed)


# -- files and state dicts ---------------------------------------------------------------------
def test_save_load_keeps_weight_and_schedules_and_the_call_wins(tmp_path: Path) -> None:
    space = LinearFeatures()
    loss = CentroidLoss(space, weight=0.5, warmup_steps=7, every=3, progress=False)
    path = loss.fit(random_images(10)).save(tmp_path / "s.pt")
    loaded = CentroidLoss.load(path, feature_space=space)
    assert (loaded.weight, loaded.options.warmup_steps, loaded.options.every) == (0.5, 7, 3)
    assert CentroidLoss.load(path, feature_space=space, weight=0.2).weight == 0.2
    assert loaded.image_size.tolist() == [2, 2] and int(loaded.num_images) == 10


def test_statistics_files_have_ordinary_permissions(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        path = (
            CentroidLoss(LinearFeatures(), progress=False)
            .fit(random_images(6))
            .save(tmp_path / "s.pt")
        )
    finally:
        os.umask(previous)
    assert path.stat().st_mode & 0o777 == 0o644


def test_load_state_dict_refuses_statistics_of_another_layer() -> None:
    fitted = CentroidLoss(DescribedFeatures("features.16"), progress=False).fit(random_images(8))
    other = CentroidLoss(DescribedFeatures("features.15"), progress=False)
    expected = r"layer: 'features\.16' \(file\) vs 'features\.15'"
    with pytest.raises(StatisticsFileError, match=expected):
        other.load_state_dict(fitted.state_dict())
    assert not other.fitted
    same = CentroidLoss(DescribedFeatures("features.16"), progress=False)
    same.load_state_dict(fitted.state_dict())
    torch.testing.assert_close(same.center, fitted.center)


def test_vgg16_features_16_statistics_do_not_load_into_features_15() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # random weights
        pool3 = CentroidLoss("vgg16", layer="features.16", pretrained=False, progress=False)
        relu3 = CentroidLoss("vgg16", layer="features.15", pretrained=False, progress=False)
    pool3.fit(torch.rand(4, 3, 16, 16) * 2 - 1)
    with pytest.raises(StatisticsFileError, match=r"features\.16"):
        relu3.load_state_dict(pool3.state_dict())


def test_an_older_state_dict_without_descriptor_or_image_size_loads() -> None:
    loss = CentroidLoss(LinearFeatures(), progress=False).fit(random_images(8))
    state = {k: v for k, v in loss.state_dict().items() if k not in ("fitted_space", "image_size")}
    assert int(state["num_images"]) == 8
    restored = CentroidLoss(LinearFeatures(), progress=False)
    restored.load_state_dict(state)
    assert int(restored.num_images) == 8 and restored.image_size.numel() == 0


def test_a_pickle_that_runs_code_is_not_executed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "evil.pt"
    torch.save({"format": "gan-regularizers/centroid-statistics", "x": Exploit()}, path)
    with pytest.raises(StatisticsFileError, match="truncated or not a gan-regularizers"):
        CentroidLoss.load(path, feature_space=LinearFeatures())
    assert not marker.exists()


# -- the cache ---------------------------------------------------------------------------------
def test_cache_with_a_one_shot_iterator_is_refused_before_reading_it(cache_folder: Path) -> None:
    images = random_images(8)
    batches = iter([images[:4], images[4:]])
    with pytest.raises(FitDataError, match="use up a one-shot iterator"):
        CentroidLoss(LinearFeatures(), progress=False).fit(batches, cache=True)
    assert next(batches).shape == (4, 3, 2, 2)  # untouched
    named = iter([images[:4], images[4:]])
    loss = CentroidLoss(LinearFeatures(), progress=False).fit(named, cache=True, cache_key="k")
    assert int(loss.num_images) == 8


@pytest.mark.parametrize("fault", ["not-a-folder", "disk-full", "torch-disk-full"])
def test_an_unwritable_cache_warns_and_keeps_the_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    if fault == "not-a-folder":  # works as root too, unlike chmod
        blocker = tmp_path / "file"
        blocker.write_text("")
        monkeypatch.setenv("GAN_REGULARIZERS_CACHE", str(blocker / "cache"))
    else:
        monkeypatch.setenv("GAN_REGULARIZERS_CACHE", str(tmp_path / "cache"))

        def full(*args, **kwargs):
            if fault == "torch-disk-full":  # what torch.save's zip writer says on a full disk
                raise RuntimeError("[enforce fail at inline_container.cc:664] unexpected pos 64")
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(torch, "save", full)
    images = random_images(12)
    space = LinearFeatures()
    with pytest.warns(CacheWarning, match="not cached"):
        loss = CentroidLoss(space, progress=False).fit(images, cache=True)
    with torch.no_grad():
        features = space(images).double().numpy()
    np.testing.assert_allclose(loss.center.numpy(), features.mean(axis=0), rtol=1e-6)


def test_reference_statistics_warn_on_an_unwritable_cache_and_zero_one_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gan_regularizers.metrics.frechet import reference_statistics

    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("GAN_REGULARIZERS_CACHE", str(blocker / "cache"))
    images = random_images(10)
    with pytest.warns(CacheWarning, match="not cached"):
        statistics = reference_statistics(LinearFeatures(), images, progress=False)
    with torch.no_grad():
        features = LinearFeatures()(images).double().numpy()
    np.testing.assert_allclose(statistics.covariance.numpy(), np.cov(features.T), rtol=1e-6)
    with pytest.warns(InputRangeWarning, match="reference statistics"):
        reference_statistics(LinearFeatures(), images.abs(), cache=False, progress=False)


def test_not_fitted_error_is_part_of_the_error_hierarchy() -> None:
    with pytest.raises(NotFittedError) as caught:
        CentroidLoss(LinearFeatures())(random_images(2))
    assert isinstance(caught.value, GanRegularizersError)


def test_a_corrupt_cache_entry_warns_and_is_recomputed(cache_folder: Path) -> None:
    images = random_images(10)
    first = CentroidLoss(LinearFeatures(), progress=False).fit(images, cache=True)
    (entry,) = cache_folder.glob("centroid-*.pt")
    entry.write_bytes(b"not a torch file")
    space = LinearFeatures()
    with pytest.warns(CacheWarning, match="ignoring an unreadable cache entry"):
        again = CentroidLoss(space, progress=False).fit(images, cache=True)
    assert space.calls > 0  # recomputed
    torch.testing.assert_close(again.center, first.center)
    assert CentroidLoss(LinearFeatures(), progress=False).fit(images, cache=True).fitted


def test_every_buffer_is_its_own_tensor_after_fit() -> None:
    """``named_buffers`` drops a tensor seen twice: checkpoints would miss a buffer."""
    loss = CentroidLoss(LinearFeatures(), progress=False).fit(random_images(6))
    assert {name for name, _ in loss.named_buffers()} == set(loss._buffers)
