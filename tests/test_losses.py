"""Every adversarial loss against hand computations, at extreme logits, under bf16, and under
float64 gradcheck; the probability warning, the logged summaries and the deprecated names."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from gan_regularizers import get_loss
from gan_regularizers.errors import (
    GanRegularizersError,
    InvalidLogitsError,
    InvalidLogitsTypeError,
    InvalidOptionError,
    ProbabilitiesAsLogitsWarning,
)
from gan_regularizers.plugin_system.contracts import logit_summary
from gan_regularizers.plugins.bce import (
    BCEAdversarialLoss,
    bce_discriminator_loss,
    bce_generator_loss,
)
from gan_regularizers.plugins.hinge import hinge_discriminator_loss, hinge_generator_loss
from gan_regularizers.plugins.lsgan import (
    LSGANAdversarialLoss,
    lsgan_discriminator_loss,
    lsgan_generator_loss,
)
from gan_regularizers.plugins.rpgan import rpgan_discriminator_loss, rpgan_generator_loss
from gan_regularizers.plugins.wasserstein import (
    wasserstein_discriminator_loss,
    wasserstein_generator_loss,
)

LOSSES = ["bce", "lsgan", "hinge", "wasserstein", "rpgan"]

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
    assert BCEAdversarialLoss(saturating=True).generator_loss(fake).item() == pytest.approx(
        saturating, rel=1e-6
    )


def test_lsgan_matches_hand_computation_with_default_and_custom_targets() -> None:
    real, fake = torch.tensor(REAL), torch.tensor(FAKE)
    d_expected = 0.5 * np.mean([(r - 1) ** 2 for r in REAL]) + 0.5 * np.mean([f**2 for f in FAKE])
    g_expected = 0.5 * np.mean([(f - 1) ** 2 for f in FAKE])
    assert lsgan_discriminator_loss(real, fake).item() == pytest.approx(d_expected, rel=1e-6)
    assert lsgan_generator_loss(fake).item() == pytest.approx(g_expected, rel=1e-6)
    # the -1/1/0 coding of Mao et al. (a=-1, b=1, c=0)
    loss = LSGANAdversarialLoss(a=-1.0, b=1.0, c=0.0)
    d_custom = 0.5 * np.mean([(r - 1) ** 2 for r in REAL]) + 0.5 * np.mean(
        [(f + 1) ** 2 for f in FAKE]
    )
    assert loss.discriminator_loss(real, fake).item() == pytest.approx(d_custom, rel=1e-6)
    assert loss.generator_loss(fake).item() == pytest.approx(0.5 * np.mean(np.square(FAKE)))


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_extreme_logits_give_finite_values_and_gradients(name: str, dtype: torch.dtype) -> None:
    loss = get_loss(name)
    real = torch.tensor([100.0, -100.0, 0.0], dtype=dtype, requires_grad=True)
    fake = torch.tensor([-100.0, 100.0, 0.0], dtype=dtype, requires_grad=True)
    d_loss = loss.discriminator_loss(real, fake)
    g_loss = loss.generator_loss(fake, real)
    assert d_loss.dtype == g_loss.dtype == torch.float32  # reduced in float32
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
        lambda r, f: hinge_discriminator_loss(r, f),
        lambda r, f: hinge_generator_loss(f),
        lambda r, f: wasserstein_discriminator_loss(r, f),
        lambda r, f: wasserstein_generator_loss(f),
        lambda r, f: rpgan_discriminator_loss(r[:4], f),
        lambda r, f: rpgan_generator_loss(f, r[:4]),
    ],
)
def test_float64_gradcheck(function) -> None:
    generator = torch.Generator().manual_seed(0)
    real = torch.randn(5, 1, dtype=torch.float64, generator=generator, requires_grad=True)
    fake = torch.randn(4, 1, dtype=torch.float64, generator=generator, requires_grad=True)

    assert torch.autograd.gradcheck(function, (real, fake), eps=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", LOSSES)
def test_shape_mismatch_between_real_and_fake_is_a_clear_error(name: str) -> None:
    loss = get_loss(name)
    with pytest.raises(ValueError, match=r"per-sample shapes .* must match.*view\(-1\)"):
        loss.discriminator_loss(torch.zeros(8, 1), torch.zeros(8))


@pytest.mark.parametrize("name", LOSSES)
def test_integer_or_empty_bad_inputs(name: str) -> None:
    loss = get_loss(name)
    with pytest.raises(InvalidLogitsTypeError, match="floating tensor of raw logits"):
        loss.generator_loss(torch.ones(4, dtype=torch.long), torch.ones(4))
    with pytest.raises(InvalidLogitsError, match="non-empty batch"):
        loss.generator_loss(torch.zeros(0), torch.zeros(0))


def test_different_batch_sizes_are_allowed() -> None:
    value = bce_discriminator_loss(torch.zeros(3, 1), torch.zeros(5, 1))
    assert value.item() == pytest.approx(2 * math.log(2.0), rel=1e-6)


def test_invalid_options_are_rejected() -> None:
    with pytest.raises(InvalidOptionError, match="would learn nothing"):
        LSGANAdversarialLoss(a=1.0, b=1.0)
    with pytest.raises(TypeError, match="must be a number"):
        LSGANAdversarialLoss(c="one")
    with pytest.raises(TypeError, match="saturating must be True or False"):
        BCEAdversarialLoss(saturating="yes")
    with pytest.raises(TypeError, match=r"unknown option.*saturate.*accepts: saturating"):
        get_loss("bce", saturate=True)


def test_hinge_matches_hand_computation() -> None:
    # D: relu(1-2)=0, relu(1+1)=2, relu(1-0.5)=0.5 -> 2.5/3; relu(1-3)=0, relu(1)=1, relu(2.5)=2.5,
    # relu(5)=5 -> 8.5/4.  G: -(−3 + 0 + 1.5 + 4)/4 = -0.625
    real, fake = torch.tensor(REAL), torch.tensor(FAKE)
    assert hinge_discriminator_loss(real, fake).item() == pytest.approx(2.5 / 3 + 8.5 / 4)
    assert hinge_generator_loss(fake).item() == pytest.approx(-0.625)


def test_wasserstein_matches_hand_computation() -> None:
    # E[D(x̂)] = 2.5/4 = 0.625; E[D(x)] = 1.5/3 = 0.5
    real, fake = torch.tensor(REAL), torch.tensor(FAKE)
    assert wasserstein_discriminator_loss(real, fake).item() == pytest.approx(0.625 - 0.5)
    assert wasserstein_generator_loss(fake).item() == pytest.approx(-0.625)


def test_rpgan_matches_hand_computation_on_pairs() -> None:
    real, fake = [2.0, -1.0, 0.5], [-3.0, 0.0, 1.5]
    softplus = lambda v: math.log1p(math.exp(v))  # noqa: E731
    d_expected = np.mean([softplus(f - r) for r, f in zip(real, fake, strict=True)])
    g_expected = np.mean([softplus(r - f) for r, f in zip(real, fake, strict=True)])
    real_t, fake_t = torch.tensor(real), torch.tensor(fake)
    assert rpgan_discriminator_loss(real_t, fake_t).item() == pytest.approx(d_expected)
    assert rpgan_generator_loss(fake_t, real_t).item() == pytest.approx(g_expected)
    loss = get_loss("rpgan")
    assert loss.generator_loss(fake_t, real_logits=real_t).item() == pytest.approx(g_expected)


def test_rpgan_without_real_logits_says_how_to_call_it() -> None:
    loss = get_loss("rpgan")
    with pytest.raises(InvalidLogitsError, match=r"needs the real logits.*real_logits=") as caught:
        loss.generator_loss(torch.zeros(4))
    assert isinstance(caught.value, GanRegularizersError)


def test_rpgan_refuses_unequal_batch_sizes() -> None:
    with pytest.raises(InvalidLogitsError, match=r"one to one.*\(3,\).*\(5,\).*same batch size"):
        get_loss("rpgan").discriminator_loss(torch.zeros(3), torch.zeros(5))
    with pytest.raises(InvalidLogitsError, match="one to one"):
        get_loss("rpgan").generator_loss(torch.zeros(5), torch.zeros(3))


@pytest.mark.parametrize("name", LOSSES)
def test_losses_under_bf16_autocast_match_float32(name: str) -> None:
    generator = torch.Generator().manual_seed(1)
    real, fake = torch.randn(8, 1, generator=generator), torch.randn(8, 1, generator=generator)
    loss = get_loss(name)
    reference_d = loss.discriminator_loss(real, fake)
    reference_g = loss.generator_loss(fake, real)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        d = loss.discriminator_loss(real.bfloat16(), fake.bfloat16())
        g = loss.generator_loss(fake.bfloat16(), real.bfloat16())
    assert d.dtype == torch.float32
    assert d.item() == pytest.approx(reference_d.item(), abs=2e-2)
    assert g.item() == pytest.approx(reference_g.item(), abs=2e-2)


@pytest.mark.parametrize("name", ["bce", "lsgan"])
def test_probabilities_passed_as_logits_warn_once(name: str) -> None:
    loss = get_loss(name)
    probabilities = torch.sigmoid(torch.randn(16, generator=torch.Generator().manual_seed(0)))
    with pytest.warns(ProbabilitiesAsLogitsWarning, match=r"remove the final\s+sigmoid") as caught:
        for _ in range(6):
            loss.discriminator_loss(probabilities, probabilities.flip(0))
            loss.generator_loss(probabilities)
    assert len([w for w in caught if w.category is ProbabilitiesAsLogitsWarning]) == 1


@pytest.mark.parametrize("name", ["bce", "lsgan"])
def test_logits_with_both_signs_or_two_calls_do_not_warn(name: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", ProbabilitiesAsLogitsWarning)
        loss = get_loss(name)
        logits = torch.tensor([0.2, 0.9, -0.1, 0.5])  # one negative value: not probabilities
        for _ in range(5):
            loss.discriminator_loss(logits, logits)
        fresh = get_loss(name)
        fresh.discriminator_loss(torch.full((4,), 0.5), torch.full((4,), 0.5))
        fresh.generator_loss(torch.full((4,), 0.5))  # two calls in [0, 1]: below the threshold


def test_logit_summaries_say_what_is_logged_and_its_reference() -> None:
    logits = torch.tensor([0.0, 2.0, -2.0, 4.0])
    bce = logit_summary(get_loss("bce"))
    assert (bce.label, bce.equilibrium) == ("D(x)", 0.5)
    assert bce(logits).item() == pytest.approx(torch.sigmoid(logits).mean().item())
    lsgan = logit_summary(get_loss("lsgan"))
    assert lsgan.equilibrium == 0.5 and lsgan(logits).item() == pytest.approx(1.0)
    assert logit_summary(get_loss("lsgan", a=-1.0, b=1.0, c=0.0)).equilibrium == 0.0
    for name in ("hinge", "wasserstein", "rpgan"):
        summary = logit_summary(get_loss(name))
        assert summary.equilibrium is None and summary(logits).item() == pytest.approx(1.0)


def test_the_loss_classes_are_plain_objects_named_apart_from_torch() -> None:
    assert not isinstance(get_loss("bce"), torch.nn.Module)
    assert type(get_loss("bce")) is BCEAdversarialLoss


@pytest.mark.parametrize("name", LOSSES)
def test_losses_do_not_depend_on_how_the_batch_is_split(name: str) -> None:
    generator = torch.Generator().manual_seed(2)
    real, fake = torch.randn(8, generator=generator), torch.randn(8, generator=generator)
    loss = get_loss(name)
    whole = loss.discriminator_loss(real, fake)
    halves = (
        loss.discriminator_loss(real[:4], fake[:4]) + loss.discriminator_loss(real[4:], fake[4:])
    ) / 2
    assert whole.item() == pytest.approx(halves.item(), rel=1e-6)
