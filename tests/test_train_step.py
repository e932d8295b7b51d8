"""``train_step`` against a hand-written Algorithm 1 step on tiny linear nets.

The expected parameters are computed here from scratch: the losses written out with ``softplus``,
gradients by ``torch.autograd.grad``, and a fresh ``torch.optim.Adam`` per player. Covered: the
plain BCE step, a discriminator-side regularizer with lazy ``every=2`` (value × 2 on step 1, off
on step 2), an augmentation before every D call, ``real_logits`` reaching the generator loss only
when it asks (``requires_real_logits``), the per-loss logit summary, and the G-EMA update.
"""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gan_regularizers.distributed import DistributedContext
from gan_regularizers.errors import GanRegularizersError, PluginContractError
from gan_regularizers.plugin_system.contracts import DiscriminatorBatch, LogitSummary
from gan_regularizers.training.components import (
    RegularizerTerm,
    build_loss,
    build_regularizers,
)
from gan_regularizers.training.config import ConfigError, TrainConfig
from gan_regularizers.training.ema import ema_beta
from gan_regularizers.training.run import Run
from gan_regularizers.training.step import train_step

LR, BETAS = 0.01, (0.5, 0.999)


class HandBCE:
    """The BCE loss written out, recording the real logits the generator step passes."""

    logit_summary = LogitSummary("D(x)", torch.sigmoid, 0.5)

    def __init__(self) -> None:
        self.seen_real_logits: list[torch.Tensor] = []

    def discriminator_loss(self, real_logits, fake_logits):
        return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()

    def generator_loss(self, fake_logits, real_logits=None):
        self.seen_real_logits.append(real_logits)
        return F.softplus(-fake_logits).mean()


class LogitPenalty(nn.Module):
    """Discriminator side: ``weight · mean(D(x)²)`` from the batch's real logits."""

    side = "discriminator"

    def __init__(self, weight: float = 0.3) -> None:
        super().__init__()
        self.weight = weight
        self.batches: list[DiscriminatorBatch] = []

    def forward(self, batch: DiscriminatorBatch) -> torch.Tensor:
        self.batches.append(batch)
        return self.weight * batch.real_logits.float().square().mean()


class Flip(nn.Module):
    """A deterministic augmentation (mirror the 4 features), counting its calls."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return images.flip(-1)


class Squeeze(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.squeeze(-1)


def tiny_nets() -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(0)
    generator = nn.Sequential(nn.Linear(3, 4), nn.Tanh())
    discriminator = nn.Sequential(nn.Linear(4, 1), Squeeze())
    return generator, discriminator


def make_run(terms=None, augment=None, ema=None, decay=0.0, loss=None) -> Run:
    generator, discriminator = tiny_nets()
    return Run(
        cfg=TrainConfig(ema_decay=decay), run_dir=None, device=torch.device("cpu"),
        context=DistributedContext(0, 1, 0, False), dataset=None,
        generator=generator, discriminator=discriminator,
        g_optimizer=torch.optim.Adam(generator.parameters(), lr=LR, betas=BETAS),
        d_optimizer=torch.optim.Adam(discriminator.parameters(), lr=LR, betas=BETAS),
        loss=loss or HandBCE(), terms=terms or {}, augment=augment,
        ema=copy.deepcopy(generator).requires_grad_(False) if ema else None,
        stream=None, latent_generator=torch.Generator(), fixed_z=torch.zeros(1, 3),
    )  # fmt: skip


def adam_step(module: nn.Module, loss: torch.Tensor, optimizer: torch.optim.Adam) -> None:
    gradients = torch.autograd.grad(loss, list(module.parameters()))
    for parameter, gradient in zip(module.parameters(), gradients, strict=True):
        parameter.grad = gradient
    optimizer.step()


def hand_step(G, D, g_opt, d_opt, real, z, penalty=0.0, augment=lambda x: x):
    """Algorithm 1 written out: D on softplus BCE (+ penalty · mean D(T(x))²), then G."""
    fake = G(z).detach()
    real_logits = D(augment(real))
    loss_d = F.softplus(-real_logits).mean() + F.softplus(D(augment(fake))).mean()
    loss_d = loss_d + penalty * real_logits.square().mean()
    adam_step(D, loss_d, d_opt)
    loss_g = F.softplus(-D(augment(G(z)))).mean()
    adam_step(G, loss_g, g_opt)
    return float(loss_d.detach()), torch.sigmoid(real_logits.detach()).mean()


def expected_after(steps, penalties, augment=lambda x: x):
    G, D = tiny_nets()
    g_opt = torch.optim.Adam(G.parameters(), lr=LR, betas=BETAS)
    d_opt = torch.optim.Adam(D.parameters(), lr=LR, betas=BETAS)
    out = [hand_step(G, D, g_opt, d_opt, real, z, p, augment)
           for (real, z), p in zip(steps, penalties, strict=True)]  # fmt: skip
    return G, D, out


def batches(count: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(1)
    return [(torch.rand(5, 4, generator=generator) * 2 - 1, torch.randn(5, 3, generator=generator))
            for _ in range(count)]  # fmt: skip


def assert_same(module: nn.Module, expected: nn.Module) -> None:
    for got, want in zip(module.parameters(), expected.parameters(), strict=True):
        torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-7)


def test_one_step_is_algorithm_1() -> None:
    run = make_run()
    (real, z), = batches(1)  # fmt: skip
    values = train_step(run, real, z, step=1)
    G, D, [(loss_d, d_real)] = expected_after([(real, z)], [0.0])
    assert_same(run.generator, G)
    assert_same(run.discriminator, D)
    assert values["loss_d"] == pytest.approx(loss_d, rel=1e-6)
    assert values["d_real"] == pytest.approx(float(d_real), rel=1e-6)  # mean sigmoid: BCE's summary
    assert "loss_d_adv" not in values and values["loss_g"] == values["loss_g_adv"]
    assert run.loss.seen_real_logits == [None]  # BCE does not ask for D(x) in the G step


def test_a_loss_that_requires_real_logits_gets_those_of_the_updated_d() -> None:
    loss = HandBCE()
    loss.requires_real_logits = True
    run = make_run(loss=loss)
    (real, z), = batches(1)  # fmt: skip
    train_step(run, real, z, step=1)
    _, D, _ = expected_after([(real, z)], [0.0])
    (seen,) = loss.seen_real_logits
    torch.testing.assert_close(seen, D(real).detach())
    assert not seen.requires_grad


def test_discriminator_regularizer_lazy_every_two_and_augmentation() -> None:
    penalty = LogitPenalty(weight=0.3)
    flip = Flip()
    run = make_run({"logit": RegularizerTerm("logit", penalty, "discriminator", every=2)}, flip)
    steps = batches(2)
    logged = [train_step(run, real, z, step) for step, (real, z) in enumerate(steps, start=1)]
    # step 1: value × 2 (lazy weight × k); step 2: not run
    G, D, out = expected_after(steps, [0.3 * 2, 0.0], augment=lambda x: x.flip(-1))
    assert_same(run.generator, G)
    assert_same(run.discriminator, D)
    assert len(penalty.batches) == 1 and penalty.batches[0].step == 1
    batch = penalty.batches[0]
    torch.testing.assert_close(batch.real, steps[0][0].flip(-1))  # what D saw: augmented
    assert not batch.fake.requires_grad and batch.augment is flip
    assert logged[0]["loss_d"] == pytest.approx(out[0][0], rel=1e-6)
    assert logged[0]["reg/logit"] == pytest.approx(logged[0]["loss_d"] - logged[0]["loss_d_adv"])
    assert logged[1]["reg/logit"] == 0.0
    assert flip.calls == 2 * 3  # real and fake in the D step, fake in the G step (BCE: no D(x))


def test_ema_follows_the_warm_up_formula() -> None:
    run = make_run(ema=True, decay=0.999)
    before = [p.clone() for p in run.ema.parameters()]
    (real, z), = batches(1)  # fmt: skip
    train_step(run, real, z, step=1)
    beta = ema_beta(0.999, 1)
    assert beta == pytest.approx(2 / 11)
    for average, old, new in zip(run.ema.parameters(), before, run.generator.parameters(),
                                 strict=True):  # fmt: skip
        torch.testing.assert_close(average, beta * old + (1 - beta) * new)
    assert ema_beta(0.999, 10**6) == 0.999 and ema_beta(0.9, 100) == 0.9
    assert math.isclose(ema_beta(0.999, 100), 101 / 110)


def test_every_is_taken_by_the_loop_and_fit_needs_fitted(runtime_regularizers) -> None:
    terms = build_regularizers(["logit-penalty:weight=0.5,every=4"])
    term = terms["logit-penalty"]
    assert (term.every, term.side, term.module.weight) == (4, "discriminator", 0.5)
    assert [term.active(s) for s in range(1, 7)] == [True, False, False, False, True, False]

    class FitsButCannotSay(nn.Module):
        def fit(self, data):
            return self

        def forward(self, fake):
            return fake.mean()

    with pytest.raises(PluginContractError, match=r"has fit\(\) but no fitted attribute"):
        build_regularizers(["<module: FitsButCannotSay>"], [FitsButCannotSay()])


class HalfALoss:
    def discriminator_loss(self, real_logits, fake_logits):
        return fake_logits.mean() - real_logits.mean()


class WrongSide(nn.Module):
    side = "both"

    def forward(self, fake):
        return fake.mean()


def test_plugin_objects_are_checked_when_built(runtime_regularizers) -> None:
    with pytest.raises(PluginContractError, match=r"'half' .*HalfALoss that has no generator_loss"):
        build_loss("half")
    with pytest.raises(GanRegularizersError, match=r"WrongSide.side is 'both'"):
        build_regularizers(["wrong-side"])
    with pytest.raises(PluginContractError, match=r"'not-callable' .*int that is not callable"):
        build_regularizers(["not-callable"])
    with pytest.raises(ConfigError, match=r"every must be an integer ≥ 1.*got 0"):
        build_regularizers(["logit-penalty:every=0"])


@pytest.fixture
def runtime_regularizers(register_plugin):
    from gan_regularizers import hookimpl

    class Plugin:
        @hookimpl
        def register_regularizers(self, register):
            register("logit-penalty", LogitPenalty)
            register("wrong-side", WrongSide)
            register("not-callable", lambda: 3)

        @hookimpl
        def register_losses(self, register):
            register("half", HalfALoss)

    register_plugin(Plugin(), "step-test-plugin")
