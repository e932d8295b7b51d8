"""BCE and LSGAN against hand computations, at extreme logits, and under float64 gradcheck."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gan_regularizers import get_loss
from gan_regularizers.plugins.bce import BCELoss, bce_discriminator_loss, bce_generator_loss
from gan_regularizers.plugins.lsgan import (
    LSGANLoss,
    lsgan_discriminator_loss,
    lsgan_generator_loss,
)

REAL = [2.0, -1.0, 0.5]
FAKE = [-3.0, 0.0, 1.5, 4.0]


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def test_bce_discriminator_matches_hand_computation() -> None:
    expected = np.mean([-math.log(sigmoid(r)) for r in REAL]) + np.mean(
        [-math.log(1.0 - sigmoid(f)) for f in FAKE]
    )
    value = bce_discriminator_loss(torch.tensor(REAL), torch.tensor(FAKE))
    assert value.item() == pytest.approx(expected, rel=1e-6)


def test_bce_discriminator_equals_torch_bce_with_targets() -> None:
    real, fake = torch.tensor(REAL, dtype=torch.float64), torch.tensor(FAKE, dtype=torch.float64)
    reference = torch.nn.functional.binary_cross_entropy(
        torch.sigmoid(real), torch.ones_like(real)
    ) + torch.nn.functional.binary_cross_entropy(torch.sigmoid(fake), torch.zeros_like(fake))
    assert bce_discriminator_loss(real, fake).item() == pytest.approx(reference.item(), rel=1e-6)


def test_bce_generator_non_saturating_and_saturating() -> None:
    non_saturating = np.mean([-math.log(sigmoid(f)) for f in FAKE])
    saturating = np.mean([math.log(1.0 - sigmoid(f)) for f in FAKE])
    fake = torch.tensor(FAKE)
    assert bce_generator_loss(fake).item() == pytest.approx(non_saturating, rel=1e-6)
    assert bce_generator_loss(fake, saturating=True).item() == pytest.approx(saturating, rel=1e-6)
    assert BCELoss(saturating=True).generator_loss(fake).item() == pytest.approx(
        saturating, rel=1e-6
    )


def test_lsgan_matches_hand_computation_with_default_and_custom_targets() -> None:
    real, fake = torch.tensor(REAL), torch.tensor(FAKE)
    d_expected = 0.5 * np.mean([(r - 1) ** 2 for r in REAL]) + 0.5 * np.mean([f**2 for f in FAKE])
    g_expected = 0.5 * np.mean([(f - 1) ** 2 for f in FAKE])
    assert lsgan_discriminator_loss(real, fake).item() == pytest.approx(d_expected, rel=1e-6)
    assert lsgan_generator_loss(fake).item() == pytest.approx(g_expected, rel=1e-6)
    # the -1/1/0 coding of Mao et al. (a=-1, b=1, c=0)
    loss = LSGANLoss(a=-1.0, b=1.0, c=0.0)
    d_custom = 0.5 * np.mean([(r - 1) ** 2 for r in REAL]) + 0.5 * np.mean(
        [(f + 1) ** 2 for f in FAKE]
    )
    assert loss.discriminator_loss(real, fake).item() == pytest.approx(d_custom, rel=1e-6)
    assert loss.generator_loss(fake).item() == pytest.approx(0.5 * np.mean(np.square(FAKE)))


@pytest.mark.parametrize("name", ["bce", "lsgan"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_extreme_logits_give_finite_values_and_gradients(name: str, dtype: torch.dtype) -> None:
    loss = get_loss(name)
    real = torch.tensor([100.0, -100.0, 0.0], dtype=dtype, requires_grad=True)
    fake = torch.tensor([-100.0, 100.0, 0.0], dtype=dtype, requires_grad=True)
    d_loss = loss.discriminator_loss(real, fake)
    g_loss = loss.generator_loss(fake)
    assert torch.isfinite(d_loss) and torch.isfinite(g_loss)
    (d_loss + g_loss).backward()
    assert torch.isfinite(real.grad).all() and torch.isfinite(fake.grad).all()
    assert real.grad.dtype == dtype


def test_bce_at_extreme_logits_has_the_exact_asymptotic_value() -> None:
    # softplus(100) = 100 to float precision: the -log(1 - D(G(z))) term of a confident wrong D.
    value = bce_discriminator_loss(torch.tensor([100.0]), torch.tensor([100.0]))
    assert value.item() == pytest.approx(100.0, rel=1e-6)
    assert bce_generator_loss(torch.tensor([-100.0])).item() == pytest.approx(100.0, rel=1e-6)


@pytest.mark.parametrize(
    "function",
    [
        lambda r, f: bce_discriminator_loss(r, f),
        lambda r, f: bce_generator_loss(f),
        lambda r, f: bce_generator_loss(f, saturating=True),
        lambda r, f: lsgan_discriminator_loss(r, f),
        lambda r, f: lsgan_generator_loss(f),
    ],
)
def test_float64_gradcheck(function) -> None:
    generator = torch.Generator().manual_seed(0)
    real = torch.randn(5, 1, dtype=torch.float64, generator=generator, requires_grad=True)
    fake = torch.randn(4, 1, dtype=torch.float64, generator=generator, requires_grad=True)

    assert torch.autograd.gradcheck(function, (real, fake), eps=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", ["bce", "lsgan"])
def test_shape_mismatch_between_real_and_fake_is_a_clear_error(name: str) -> None:
    loss = get_loss(name)
    with pytest.raises(ValueError, match=r"per-sample shapes .* must match.*view\(-1\)"):
        loss.discriminator_loss(torch.zeros(8, 1), torch.zeros(8))


@pytest.mark.parametrize("name", ["bce", "lsgan"])
def test_integer_or_probability_like_bad_inputs(name: str) -> None:
    loss = get_loss(name)
    with pytest.raises(TypeError, match="floating tensor of raw logits"):
        loss.generator_loss(torch.ones(4, dtype=torch.long))
    with pytest.raises(ValueError, match="non-empty batch"):
        loss.generator_loss(torch.zeros(0))


def test_different_batch_sizes_are_allowed() -> None:
    value = bce_discriminator_loss(torch.zeros(3, 1), torch.zeros(5, 1))
    assert value.item() == pytest.approx(2 * math.log(2.0), rel=1e-6)


def test_invalid_options_are_rejected() -> None:
    with pytest.raises(ValueError, match="would learn nothing"):
        LSGANLoss(a=1.0, b=1.0)
    with pytest.raises(TypeError, match="must be a number"):
        LSGANLoss(c="one")
    with pytest.raises(TypeError, match="saturating must be True or False"):
        BCELoss(saturating="yes")
    with pytest.raises(TypeError, match=r"unknown option.*saturate.*accepts: saturating"):
        get_loss("bce", saturate=True)
