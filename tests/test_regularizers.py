"""Discriminator-side regularizers against independent float64 computations: R1, R2 and WGAN-GP
through torch.autograd.grad on tiny discriminators written here, LeCam over several EMA steps."""

from __future__ import annotations

import pytest
import torch
from helpers import run_in_gloo_group
from torch import nn

from gan_regularizers import get_regularizer
from gan_regularizers.errors import GanRegularizersError, InvalidOptionError
from gan_regularizers.plugin_system.contracts import DiscriminatorBatch
from gan_regularizers.plugins.diffaugment import DiffAugment
from gan_regularizers.plugins.gradient_penalties import (
    r1_penalty,
    r2_penalty,
    wgan_gradient_penalty,
)
from gan_regularizers.plugins.lecam import LeCamRegularizer


class TinyD(nn.Module):
    """conv 3→4 (3×3) → LeakyReLU → mean-pool → linear 4→1: nonlinear, so ∇ₓD varies with x."""

    def __init__(self, seed: int = 0, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.head = nn.Linear(4, 1)
        self.to(dtype)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        hidden = nn.functional.leaky_relu(self.conv(images), 0.2)
        return self.head(hidden.mean(dim=(2, 3))).view(-1)


def images(n: int = 4, seed: int = 1, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 3, 6, 6, generator=generator) * 2 - 1).to(dtype)


def batch_for(
    discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor
) -> DiscriminatorBatch:
    return DiscriminatorBatch(
        discriminator, real, fake, discriminator(real), discriminator(fake), step=1
    )


def reference_gradients(discriminator: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """∇ₓ Σ D(x) in float64, written independently of the package."""
    d64 = TinyD(dtype=torch.float64)
    d64.load_state_dict({k: v.double() for k, v in discriminator.state_dict().items()})
    x = x.double().requires_grad_(True)
    (gradients,) = torch.autograd.grad(d64(x).sum(), x)
    return gradients


def test_r1_and_r2_on_a_linear_discriminator_are_half_gamma_times_its_weight_norm() -> None:
    # D(x) = w·vec(x) + b has ∇ₓD = w for every x, so R1 = γ/2 ‖w‖².
    linear = nn.Linear(3 * 6 * 6, 1)
    discriminator = nn.Sequential(nn.Flatten(), linear)
    expected = 0.5 * 10.0 * linear.weight.double().square().sum().item()
    assert r1_penalty(discriminator, images()).item() == pytest.approx(expected, rel=1e-5)
    assert r2_penalty(discriminator, images(seed=2)).item() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("name", ["r1", "r2"])
def test_r1_and_r2_match_a_float64_autograd_reference(name: str) -> None:
    discriminator = TinyD()
    real, fake = images(seed=1), images(seed=2)
    penalty = get_regularizer(name, gamma=3.0)
    value = penalty(batch_for(discriminator, real, fake))
    gradients = reference_gradients(discriminator, real if name == "r1" else fake)
    expected = 1.5 * gradients.square().sum(dim=(1, 2, 3)).mean().item()
    assert value.dtype == torch.float32
    assert value.item() == pytest.approx(expected, rel=1e-5)


def test_r1_trains_the_discriminator_through_the_double_backward() -> None:
    discriminator = TinyD()
    real = images()
    value = get_regularizer("r1")(batch_for(discriminator, real, images(seed=2)))
    value.backward()
    # the same through a float64 graph written here
    d64 = TinyD(dtype=torch.float64)
    d64.load_state_dict({k: v.double() for k, v in discriminator.state_dict().items()})
    x = real.double().requires_grad_(True)
    (g,) = torch.autograd.grad(d64(x).sum(), x, create_graph=True)
    (5.0 * g.square().sum(dim=(1, 2, 3)).mean()).backward()
    checked = 0
    for mine, reference in zip(discriminator.parameters(), d64.parameters(), strict=True):
        if reference.grad is None:  # the head's bias does not change ∇ₓD
            assert mine.grad is None
            continue
        torch.testing.assert_close(mine.grad.double(), reference.grad, rtol=1e-4, atol=1e-7)
        checked += 1
    assert checked == 3


def test_gradient_penalty_on_a_linear_discriminator_is_lambda_times_norm_minus_one_squared() -> (
    None
):
    linear = nn.Linear(3 * 6 * 6, 1)
    discriminator = nn.Sequential(nn.Flatten(), linear)
    norm = linear.weight.double().norm().item()
    value = wgan_gradient_penalty(discriminator, images(seed=1), images(seed=2), weight=10.0)
    assert value.item() == pytest.approx(10.0 * (norm - 1.0) ** 2, rel=1e-5)


def test_gradient_penalty_matches_a_float64_reference_on_the_same_interpolates() -> None:
    discriminator = TinyD()
    real, fake = images(seed=1), images(seed=2)
    torch.manual_seed(123)
    value = get_regularizer("gradient-penalty", weight=2.0)(batch_for(discriminator, real, fake))
    torch.manual_seed(123)
    epsilon = torch.rand(4, 1, 1, 1)  # the same draw from torch's global RNG
    x_tilde = epsilon.double() * real.double() + (1 - epsilon.double()) * fake.double()
    gradients = reference_gradients(discriminator, x_tilde)
    norms = gradients.flatten(1).norm(dim=1)
    assert value.item() == pytest.approx(2.0 * (norms - 1).square().mean().item(), rel=1e-5)


@pytest.mark.parametrize("name", ["r1", "r2", "gradient-penalty"])
def test_penalties_under_bf16_autocast_take_float32_gradients(name: str) -> None:
    discriminator = TinyD()
    real, fake = images(seed=1), images(seed=2)
    torch.manual_seed(0)
    reference = get_regularizer(name)(batch_for(discriminator, real, fake))
    torch.manual_seed(0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        batch = batch_for(discriminator, real.bfloat16(), fake.bfloat16())
        value = get_regularizer(name)(batch)
    assert value.dtype == torch.float32
    # only the bf16 rounding of the images themselves remains
    assert value.item() == pytest.approx(reference.item(), rel=2e-2)


@pytest.mark.parametrize(
    "penalty",
    [
        lambda d, r, f: r1_penalty(d, r, 2.0),
        lambda d, r, f: r2_penalty(d, f, 2.0),
        lambda d, r, f: wgan_gradient_penalty(d, r, f, 2.0),
    ],
)
def test_float64_gradcheck_with_respect_to_the_discriminator_weights(penalty) -> None:
    real, fake = images(2, seed=1, dtype=torch.float64), images(2, seed=2, dtype=torch.float64)
    weight = torch.randn(3 * 6 * 6, dtype=torch.float64, requires_grad=True)

    def discriminator(x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x.flatten(1) @ weight)

    def function(w: torch.Tensor) -> torch.Tensor:
        torch.manual_seed(0)  # the same interpolates at every evaluation
        return penalty(discriminator, real, fake)

    assert torch.autograd.gradcheck(function, (weight,), eps=1e-6, atol=1e-7)


def test_gradient_penalty_refuses_unequal_batches() -> None:
    with pytest.raises(InvalidOptionError, match=r"one to one.*equal batch sizes"):
        wgan_gradient_penalty(TinyD(), images(4), images(3))


@pytest.mark.parametrize(
    ("name", "options", "expected"),
    [
        ("r1", {"gamma": -1.0}, r"r1: gamma must be a finite number ≥ 0, got -1.0"),
        ("r2", {"gamma": "ten"}, r"r2: gamma must be a number ≥ 0, got 'ten'"),
        ("gradient-penalty", {"weight": float("nan")}, r"weight must be a finite number"),
        ("lecam", {"decay": 1.0}, r"lecam: decay must be a number in \[0, 1\)"),
        ("lecam", {"weight": -0.1}, r"lecam: weight must be a finite number ≥ 0"),
    ],
)
def test_invalid_options_are_clear_errors(name: str, options: dict, expected: str) -> None:
    with pytest.raises(GanRegularizersError, match=expected):
        get_regularizer(name, **options)


def test_every_discriminator_regularizer_declares_its_side() -> None:
    for name in ("r1", "r2", "gradient-penalty", "lecam"):
        assert get_regularizer(name).side == "discriminator"


LECAM_STEPS = [
    ([1.0, 3.0], [-2.0, 0.0]),
    ([2.0, 2.0], [-1.0, -3.0]),
    ([0.5, -0.5], [1.0, 2.0]),
    ([4.0, 0.0], [0.0, -4.0]),
]


def lecam_by_hand(decay: float, weight: float) -> list[tuple[float, float, float]]:
    """(α_R, α_F, penalty) after each step: anchors updated first, then the penalty."""
    anchor_real = anchor_fake = 0.0
    results = []
    for real, fake in LECAM_STEPS:
        anchor_real = decay * anchor_real + (1 - decay) * sum(real) / len(real)
        anchor_fake = decay * anchor_fake + (1 - decay) * sum(fake) / len(fake)
        real_term = sum(max(r - anchor_fake, 0.0) ** 2 for r in real) / len(real)
        fake_term = sum(max(anchor_real - f, 0.0) ** 2 for f in fake) / len(fake)
        results.append((anchor_real, anchor_fake, weight * (real_term + fake_term)))
    return results


def lecam_batch(real: list[float], fake: list[float]) -> DiscriminatorBatch:
    empty = torch.zeros(len(real), 1, 1, 1)
    return DiscriminatorBatch(
        nn.Identity(), empty, empty, torch.tensor(real), torch.tensor(fake), step=1
    )


def test_lecam_follows_its_ema_over_several_steps() -> None:
    lecam = get_regularizer("lecam", weight=0.5, decay=0.9)
    for (real, fake), (anchor_real, anchor_fake, penalty) in zip(
        LECAM_STEPS, lecam_by_hand(0.9, 0.5), strict=True
    ):
        value = lecam(lecam_batch(real, fake))
        assert lecam.anchor_real.item() == pytest.approx(anchor_real, rel=1e-6)
        assert lecam.anchor_fake.item() == pytest.approx(anchor_fake, rel=1e-6)
        assert value.item() == pytest.approx(penalty, rel=1e-6)
    assert int(lecam.updates) == len(LECAM_STEPS)
    assert lecam.diagnostics == {
        "anchor_real": pytest.approx(anchor_real),
        "anchor_fake": pytest.approx(anchor_fake),
    }


def test_lecam_state_dict_resumes_exactly() -> None:
    straight = LeCamRegularizer(decay=0.9)
    values = [straight(lecam_batch(r, f)).item() for r, f in LECAM_STEPS]
    first = LeCamRegularizer(decay=0.9)
    for real, fake in LECAM_STEPS[:2]:
        first(lecam_batch(real, fake))
    state = first.state_dict()
    assert set(state) == {"anchor_real", "anchor_fake", "updates"}
    resumed = LeCamRegularizer(decay=0.9)
    resumed.load_state_dict(state)
    resumed_values = [resumed(lecam_batch(r, f)).item() for r, f in LECAM_STEPS[2:]]
    assert resumed_values == values[2:]
    assert torch.equal(resumed.anchor_real, straight.anchor_real)


def test_lecam_gradient_reaches_the_logits() -> None:
    lecam = LeCamRegularizer(weight=1.0, decay=0.0)  # anchors = this batch's means
    real = torch.tensor([1.0, 3.0], requires_grad=True)
    fake = torch.tensor([-2.0, 0.0], requires_grad=True)
    empty = torch.zeros(2, 1, 1, 1)
    lecam(DiscriminatorBatch(nn.Identity(), empty, empty, real, fake, step=1)).backward()
    # α_F = -1, α_R = 2: d/dr mean(relu(r + 1)²) = (r + 1) = [2, 4]; d/df mean(relu(2 - f)²) =
    # -(2 - f) = [-4, -2]
    torch.testing.assert_close(real.grad, torch.tensor([2.0, 4.0]))
    torch.testing.assert_close(fake.grad, torch.tensor([-4.0, -2.0]))


# -- under torch.distributed (2 gloo processes, fork) ------------------------------------------


def _rank_logits(rank: int, step: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(100 * step + rank)
    return torch.randn(3, generator=generator) + 1, torch.randn(3, generator=generator) - 1


def _ranks_job(rank: int, out: str) -> None:
    lecam = LeCamRegularizer(decay=0.5)
    augment = DiffAugment(adaptive=True, ada_kimg=0.1, interval=2)
    for step in range(4):
        real, fake = _rank_logits(rank, step)
        lecam(lecam_batch(real.tolist(), fake.tolist()))
        augment.update(real)
    torch.save({**lecam.state_dict(), "p": augment.p.clone()}, f"{out}.{rank}")


def test_lecam_anchors_and_ada_probability_agree_across_ranks(tmp_path) -> None:
    out = str(tmp_path / "state")
    run_in_gloo_group(_ranks_job, 2, out)
    states = [torch.load(f"{out}.{rank}", weights_only=True) for rank in range(2)]
    # one process that sees both ranks' batches at once
    lecam = LeCamRegularizer(decay=0.5)
    augment = DiffAugment(adaptive=True, ada_kimg=0.1, interval=2)
    for step in range(4):
        pairs = [_rank_logits(rank, step) for rank in range(2)]
        real = torch.cat([r for r, _ in pairs])
        lecam(lecam_batch(real.tolist(), torch.cat([f for _, f in pairs]).tolist()))
        augment.update(real)
    for state in states:
        torch.testing.assert_close(state["anchor_real"], lecam.anchor_real)
        torch.testing.assert_close(state["anchor_fake"], lecam.anchor_fake)
        torch.testing.assert_close(state["p"], augment.p)
    assert 0 < augment.p.item() < 1  # the rule moved p, so the comparison means something
