"""Feature matching against hand computations and a float64 reference; the contract's
``features`` member and its error; the loop handing the regularizer a GeneratorBatch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from gan_regularizers import get_loss, get_regularizer
from gan_regularizers.distributed import DistributedContext
from gan_regularizers.errors import InvalidOptionError, PluginContractError
from gan_regularizers.plugin_system.contracts import GeneratorBatch, discriminator_features
from gan_regularizers.plugins.feature_matching import feature_matching_distance
from gan_regularizers.training.components import RegularizerTerm
from gan_regularizers.training.config import TrainConfig
from gan_regularizers.training.run import Run
from gan_regularizers.training.step import train_step


class FeatureD(nn.Module):
    """A discriminator on 4-d points with the optional ``features`` member (3-d, tanh)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body, self.head = nn.Linear(4, 3), nn.Linear(3, 1)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.body(images))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images)).squeeze(-1)


class IdentityD(nn.Module):
    def features(self, images: torch.Tensor) -> torch.Tensor:
        return images

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return images.sum(dim=1)


def batch(real: torch.Tensor, fake: torch.Tensor, discriminator: nn.Module) -> GeneratorBatch:
    return GeneratorBatch(fake, real, discriminator.requires_grad_(False), step=1)


def test_value_by_hand() -> None:
    real = torch.tensor([[0.0, 0.0], [2.0, 2.0]])  # mean (1, 1)
    fake = torch.tensor([[1.0, 3.0], [3.0, 3.0]], requires_grad=True)  # mean (2, 3)
    l1 = get_regularizer("feature-matching", weight=2.0)
    assert l1(batch(real, fake, IdentityD())).item() == pytest.approx(2.0 * (1 + 2) / 2)
    l2 = get_regularizer("feature-matching", weight=2.0, distance="l2")
    value = l2(batch(real, fake, IdentityD()))
    assert value.item() == pytest.approx(2.0 * (1 + 4) / 2)
    value.backward()  # ∂/∂F_ik of 2 · (1/d) Σ_k (m̂_k − m_k)² = 2 · 2 (m̂_k − m_k) / (d · B)
    torch.testing.assert_close(fake.grad, torch.tensor([[1.0, 2.0], [1.0, 2.0]]))


def test_value_matches_a_float64_reference_through_d_features() -> None:
    generator = torch.Generator().manual_seed(3)
    real, fake = torch.randn(16, 4, generator=generator), torch.randn(16, 4, generator=generator)
    discriminator = FeatureD()
    with torch.no_grad():
        w, b = discriminator.body.weight.double().numpy(), discriminator.body.bias.double().numpy()
    f_real = np.tanh(real.double().numpy() @ w.T + b)
    f_fake = np.tanh(fake.double().numpy() @ w.T + b)
    difference = f_fake.mean(axis=0) - f_real.mean(axis=0)
    fake.requires_grad_(True)
    for distance, expected in (("l1", np.abs(difference).mean()), ("l2", (difference**2).mean())):
        module = get_regularizer("feature-matching", weight=0.5, distance=distance)
        value = module(batch(real, fake, discriminator))
        assert value.item() == pytest.approx(0.5 * expected, rel=1e-6)
    value.backward()
    assert fake.grad.abs().sum() > 0
    assert all(p.grad is None for p in discriminator.parameters())  # D stays frozen


def test_a_discriminator_without_features_gets_a_clear_error() -> None:
    plain = nn.Sequential(nn.Linear(4, 1))
    with pytest.raises(PluginContractError, match=r"Sequential has no features\(images"):
        get_regularizer("feature-matching")(batch(torch.zeros(2, 4), torch.zeros(2, 4), plain))
    with pytest.raises(InvalidOptionError, match="distance must be 'l1'"):
        get_regularizer("feature-matching", distance="cosine")
    assert discriminator_features(IdentityD(), torch.ones(2, 1, 2, 2)).shape == (2, 4)
    assert feature_matching_distance(torch.ones(3, 2), torch.ones(5, 2)).item() == 0.0


def test_the_loop_passes_the_real_batch_and_the_frozen_discriminator() -> None:
    seen: list[GeneratorBatch] = []
    module = get_regularizer("feature-matching", weight=3.0)
    original = module.forward

    def recording(argument: GeneratorBatch) -> torch.Tensor:
        seen.append(argument)
        assert not any(p.requires_grad for p in argument.discriminator.parameters())
        return original(argument)

    module.forward = recording
    torch.manual_seed(0)
    generator, discriminator = nn.Sequential(nn.Linear(3, 4), nn.Tanh()), FeatureD()
    run = Run(
        cfg=TrainConfig(), run_dir=None, device=torch.device("cpu"),
        context=DistributedContext(0, 1, 0, False), dataset=None,
        generator=generator, discriminator=discriminator,
        g_optimizer=torch.optim.Adam(generator.parameters(), lr=0.01),
        d_optimizer=torch.optim.Adam(discriminator.parameters(), lr=0.01),
        loss=get_loss("bce"),
        terms={"feature-matching": RegularizerTerm("feature-matching", module, "generator")},
        augment=None, ema=None, stream=None, latent_generator=torch.Generator(),
        fixed_z=torch.zeros(1, 3),
    )  # fmt: skip
    real, z = torch.rand(5, 4) * 2 - 1, torch.randn(5, 3)
    logged = train_step(run, real, z, step=1)
    (given,) = seen
    assert torch.equal(given.real, real) and given.discriminator is discriminator
    assert given.step == 1 and given.fake.requires_grad
    with torch.no_grad():  # D did not change in the G step: recompute the value by hand
        m_real = discriminator.features(real).mean(0)
        m_fake = discriminator.features(given.fake).mean(0)
    assert logged["reg/feature-matching"] == pytest.approx(
        3.0 * (m_fake - m_real).abs().mean().item(), rel=1e-6
    )
