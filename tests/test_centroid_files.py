"""Centroid statistics on disk: round trip, refusals, corrupt files, the cache, atomic writes,
and the presets (through a stand-in ``vgg16`` registered at run time)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from feature_modules import LinearFeatures, random_images
from torch import nn

from gan_regularizers import CentroidLoss, hookimpl
from gan_regularizers.errors import StatisticsFileError


class DescribedFeatures(LinearFeatures):
    """A linear feature space with a descriptor, as registered feature spaces have."""

    def __init__(self, layer: str = "a", pooling: str = "none", seed: int = 0) -> None:
        super().__init__(seed=seed)
        self.layer, self.pooling = layer, pooling

    @property
    def descriptor(self) -> dict:
        return {"backbone": "linear", "layer": self.layer, "pooling": self.pooling}


class StandInVGG(nn.Module):
    """Stands in for vgg16: ``features.16`` gives C×H×W maps, ``pooling='avg'`` averages them."""

    def __init__(self, layer: str = "features.16", pooling: str = "none") -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(1)
        self.conv = nn.Conv2d(3, 6, 1)
        with torch.no_grad():
            self.conv.weight.copy_(torch.randn(6, 3, 1, 1, generator=generator))
            self.conv.bias.copy_(torch.randn(6, generator=generator))
        self.layer, self.pooling = layer, pooling

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        maps = self.conv(images)
        return maps.mean(dim=(2, 3)) if self.pooling == "avg" else maps.flatten(1)

    @property
    def descriptor(self) -> dict:
        return {"backbone": "stand-in-vgg16", "layer": self.layer, "pooling": self.pooling}


class StandInPlugin:
    @hookimpl
    def register_feature_spaces(self, register):
        register("vgg16", StandInVGG)


@pytest.fixture
def stand_in_vgg16(monkeypatch: pytest.MonkeyPatch, register_plugin) -> None:
    monkeypatch.setenv("GAN_REGULARIZERS_DISABLE_PLUGINS", "vgg16")
    register_plugin(StandInPlugin(), "stand-in-vgg16")


@pytest.fixture
def cache_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("GAN_REGULARIZERS_CACHE", str(folder))
    return folder


def test_save_load_round_trip(tmp_path: Path) -> None:
    space = DescribedFeatures()
    loss = CentroidLoss(space, centers=2, progress=False).fit(random_images(20))
    path = loss.save(tmp_path / "stats.pt")
    loaded = CentroidLoss.load(path, feature_space=space)
    torch.testing.assert_close(loaded.center, loss.center)
    torch.testing.assert_close(loaded.d_ref, loss.d_ref)
    assert int(loaded.num_images) == 20 and loaded.num_centers == 2
    fake = random_images(5, seed=9).requires_grad_()
    assert loaded(fake).item() == pytest.approx(loss(fake).item())
    payload = torch.load(path, weights_only=True)
    assert payload["descriptor"]["layer"] == "a" and payload["package_version"]


def test_loading_into_another_feature_space_is_refused_naming_the_difference(
    tmp_path: Path,
) -> None:
    path = (
        CentroidLoss(DescribedFeatures(), progress=False)
        .fit(random_images(8))
        .save(tmp_path / "s.pt")
    )
    with pytest.raises(StatisticsFileError, match=r"pooling: 'none' \(file\) vs 'avg' \(now\)"):
        CentroidLoss.load(path, feature_space=DescribedFeatures(pooling="avg"))
    with pytest.raises(StatisticsFileError, match=r"state_sha256|backbone"):
        CentroidLoss.load(path, feature_space=LinearFeatures())


def test_loading_with_other_options_is_refused(tmp_path: Path) -> None:
    space = DescribedFeatures()
    path = CentroidLoss(space, progress=False).fit(random_images(8)).save(tmp_path / "s.pt")
    with pytest.raises(StatisticsFileError, match="radius='mean'"):
        CentroidLoss.load(path, feature_space=space, radius="quantile")


def test_custom_module_file_needs_the_module(tmp_path: Path) -> None:
    path = (
        CentroidLoss(LinearFeatures(), progress=False).fit(random_images(8)).save(tmp_path / "s.pt")
    )
    with pytest.raises(StatisticsFileError, match="feature_space=module"):
        CentroidLoss.load(path)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "other-format", "missing"])
def test_corrupt_or_missing_files_are_clear_errors(tmp_path: Path, damage: str) -> None:
    space = DescribedFeatures()
    path = CentroidLoss(space, progress=False).fit(random_images(8)).save(tmp_path / "s.pt")
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        expected = "truncated or not a gan-regularizers statistics file"
    elif damage == "garbage":
        path.write_bytes(b"not a torch file at all")
        expected = "truncated or not a gan-regularizers statistics file"
    elif damage == "other-format":
        torch.save({"format": "something-else"}, path)
        expected = "not a gan-regularizers/centroid-statistics file"
    else:
        path.unlink()
        expected = "No statistics file"
    with pytest.raises(StatisticsFileError, match=expected):
        CentroidLoss.load(path, feature_space=space)


def test_a_failed_write_keeps_the_previous_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    space = DescribedFeatures()
    loss = CentroidLoss(space, progress=False).fit(random_images(8))
    path = loss.save(tmp_path / "s.pt")
    before = path.read_bytes()
    real_save = torch.save

    def crash_half_way(obj, file, *args, **kwargs):
        real_save(obj, file, *args, **kwargs)
        file.truncate(10)
        raise KeyboardInterrupt("killed during the write")

    monkeypatch.setattr(torch, "save", crash_half_way)
    with pytest.raises(KeyboardInterrupt):
        loss.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.pt"]  # no temporary left behind
    assert CentroidLoss.load(path, feature_space=space).fitted


def test_cache_hits_and_misses(cache_folder: Path) -> None:
    images = random_images(16)
    space = DescribedFeatures()
    first = CentroidLoss(space, progress=False).fit(images, cache=True)
    assert len(list(cache_folder.glob("centroid-*.pt"))) == 1
    calls = space.calls
    again = CentroidLoss(space, progress=False).fit(images.flip(0), cache=True)  # same set
    assert space.calls == calls  # hit: the backbone did not run
    torch.testing.assert_close(again.center, first.center)
    changed = images.clone()
    changed[3, 0, 0, 0] = 0.123
    CentroidLoss(space, progress=False).fit(changed, cache=True)
    assert space.calls > calls  # a changed image misses
    calls = space.calls
    CentroidLoss(space, radius="quantile", progress=False).fit(images, cache=True)
    assert space.calls > calls  # a changed option misses
    calls = space.calls
    CentroidLoss(space, progress=False).fit(images, max_images=10, cache=True)
    assert space.calls > calls  # a different N misses
    CentroidLoss(DescribedFeatures(pooling="avg"), progress=False).fit(images, cache=True)
    assert len(list(cache_folder.glob("centroid-*.pt"))) == 5  # another space misses too


def test_cache_key_skips_hashing_the_images(cache_folder: Path) -> None:
    space = DescribedFeatures()
    CentroidLoss(space, progress=False).fit(random_images(10), cache=True, cache_key="mnist-v1")
    calls = space.calls
    hit = CentroidLoss(space, progress=False).fit(
        random_images(10), cache=True, cache_key="mnist-v1"
    )
    assert space.calls == calls and hit.fitted


def test_released_code_preset_projects_with_differentiable_pca(stand_in_vgg16) -> None:
    images = random_images(30)
    loss = CentroidLoss(preset="released-code", progress=False).fit(images, batch_size=7)
    assert loss.feature_space.pooling == "avg"
    with torch.no_grad():
        features = StandInVGG(pooling="avg")(images).double().numpy()
    centred = features - features.mean(axis=0)
    _, _, right = np.linalg.svd(centred, full_matrices=False)
    projected = centred @ right[:2].T  # numpy PCA to 2-D, as the released code's sklearn PCA
    distances = np.linalg.norm(projected - projected.mean(axis=0), axis=1)
    assert loss.center.shape == (2,)
    np.testing.assert_allclose(loss.center.numpy(), projected.mean(axis=0), atol=1e-6)
    assert float(loss.d_ref) == pytest.approx(distances.mean(), rel=1e-6)
    np.testing.assert_allclose(
        np.abs(loss.projection_components.numpy()), np.abs(right[:2]), atol=1e-6
    )
    fake = (random_images(6, seed=5) * 1.0).requires_grad_()
    loss(fake).backward()
    assert fake.grad.abs().sum() > 0  # unlike the released code, gradients reach the images


def test_paper_preset_is_vgg16_features_16_flattened(stand_in_vgg16, tmp_path: Path) -> None:
    loss = CentroidLoss(preset="paper", progress=False)
    assert loss.feature_space.layer == "features.16" and loss.feature_space.pooling == "none"
    assert loss.weight == 0.1 and loss.projection_dim is None
    loss.fit(random_images(12))
    assert loss.center.shape == (6 * 2 * 2,)
    path = loss.save(tmp_path / "paper.pt")
    assert CentroidLoss.load(path).preset == "paper"
    with pytest.raises(ValueError, match="fixes pooling"):
        CentroidLoss(preset="paper", pooling="avg")
    with pytest.raises(ValueError, match="fixes feature_space='vgg16'"):
        CentroidLoss("clip", preset="paper")


def test_paper_preset_with_the_real_vgg16_space(tmp_path: Path) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # random weights: fine for a wiring test
        loss = CentroidLoss(preset="paper", pretrained=False, progress=False)
    torch.manual_seed(0)
    loss.fit(torch.rand(6, 3, 64, 64) * 2 - 1, batch_size=4)
    assert loss.center.shape == (256 * 8 * 8,)
    assert loss.descriptor["layer"] == "features.16" and loss.descriptor["pooling"] == "none"
    fake = (torch.rand(2, 3, 64, 64) * 4 - 2).clamp(-1, 1).requires_grad_()
    loss(fake).backward()
    assert fake.grad.abs().sum() > 0
    assert all(p.grad is None for p in loss.feature_space.parameters())
    path = loss.save(tmp_path / "vgg.pt")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(StatisticsFileError, match="pooling"):
            CentroidLoss.load(path, pooling="avg", preset=None, pretrained=False)
