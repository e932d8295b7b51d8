"""The conformance suite: every built-in loss, regularizer, augmentation and feature space meets
its contract (timm style: adding a plugin to gan-regularizers adds it here, with no new test).

Parametrized over the names that gan-regularizers' own distribution registers (found through
``list_plugins()``), so unrelated third-party plugins installed in the environment do not change
the suite; ``GAN_REGULARIZERS_CONFORMANCE=all`` runs it over every installed plugin's names (how a
plugin author checks a package against the same contracts).

Checked: finite values and gradients at extreme inputs, float32 and bf16, shapes, the gradient
reaching the generator (generator side) or the discriminator (discriminator side), batch-size
independence where it applies, state in buffers and the ``state_dict`` round trip.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from typing import Any

import pytest
import torch
from torch import nn

from gan_regularizers import (
    get_augmentation,
    get_feature_space,
    get_loss,
    get_regularizer,
    list_plugins,
)
from gan_regularizers.errors import MissingExtraError, WeightsUnavailableError
from gan_regularizers.plugin_system.contracts import (
    AdversarialLoss,
    DiscriminatorBatch,
    GeneratorBatch,
    LogitSummary,
    needs_batch,
    regularizer_side,
)


def builtin_names(kind: str) -> list[str]:
    names = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a broken unrelated plugin is not this suite's business
        for info in list_plugins():
            everything = os.environ.get("GAN_REGULARIZERS_CONFORMANCE") == "all"
            if everything or info.distribution == "gan-regularizers":
                names += info.registers.get(kind, [])
    return sorted(names)


LOSSES = builtin_names("loss")
REGULARIZERS = builtin_names("regularizer")
AUGMENTATIONS = builtin_names("augmentation")
FEATURE_SPACES = builtin_names("feature space")
RANDOM_PER_SAMPLE = {"gradient-penalty"}  # draws one ε per sample: not batch-size independent

# small, randomly initialised variants of the feature spaces (no downloads)
SPACE_OPTIONS: dict[str, dict[str, Any]] = {
    "vgg16": {"pretrained": False},
    "clip": {"model": "ViT-S-32", "pretrained": False},
    "dino": {"model": "vit_tiny_patch16_224", "input_size": 32, "pretrained": False},
    "timm": {"model": "resnet18", "input_size": 32, "pretrained": False},
}


def test_the_suite_covers_the_standard_toolkit() -> None:
    assert {"bce", "lsgan", "hinge", "wasserstein", "rpgan"} <= set(LOSSES)
    assert {"centroid", "r1", "r2", "gradient-penalty", "lecam"} <= set(REGULARIZERS)
    assert "diffaugment" in AUGMENTATIONS and "mnist-features" in FEATURE_SPACES


# -- losses ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", LOSSES)
def test_loss_has_the_contract_and_a_logit_summary(name: str) -> None:
    loss = get_loss(name)
    assert isinstance(loss, AdversarialLoss)
    assert isinstance(loss.logit_summary, LogitSummary)


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_loss_is_finite_with_finite_gradients_at_extreme_logits(
    name: str, dtype: torch.dtype
) -> None:
    loss = get_loss(name)
    real = torch.tensor([100.0, -100.0, 0.0, 3.0], dtype=dtype, requires_grad=True)
    fake = torch.tensor([-100.0, 100.0, 0.0, -3.0], dtype=dtype, requires_grad=True)
    d_loss, g_loss = loss.discriminator_loss(real, fake), loss.generator_loss(fake, real)
    assert d_loss.shape == g_loss.shape == ()
    assert torch.isfinite(d_loss) and torch.isfinite(g_loss)
    (d_loss + g_loss).backward()
    assert torch.isfinite(real.grad).all() and torch.isfinite(fake.grad).all()


@pytest.mark.parametrize("name", LOSSES)
def test_generator_loss_sends_a_gradient_to_the_fake_logits(name: str) -> None:
    fake = torch.tensor([0.3, -0.7, 1.2], requires_grad=True)
    get_loss(name).generator_loss(fake, torch.tensor([0.1, 0.5, -0.2])).backward()
    assert fake.grad.abs().sum() > 0


@pytest.mark.parametrize("name", LOSSES)
def test_loss_is_batch_size_independent_and_shape_agnostic(name: str) -> None:
    real, fake = torch.tensor([0.3, -1.5, 2.0]), torch.tensor([-0.4, 0.9, 1.1])
    loss = get_loss(name)
    once = loss.discriminator_loss(real, fake)
    twice = loss.discriminator_loss(real.repeat(2), fake.repeat(2))
    column = loss.discriminator_loss(real[:, None], fake[:, None])
    assert once.item() == pytest.approx(twice.item()) == pytest.approx(column.item())
    g_once = loss.generator_loss(fake, real)
    assert g_once.item() == pytest.approx(
        loss.generator_loss(fake.repeat(2), real.repeat(2)).item()
    )


# -- regularizers ------------------------------------------------------------------------------


class TinyDiscriminator(nn.Module):
    def __init__(self, scale: float = 1.0) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.head = nn.Linear(4, 1)
        self.scale = scale

    def features(self, images: torch.Tensor) -> torch.Tensor:  # the optional member
        return torch.tanh(self.conv(images)).mean(dim=(2, 3))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.scale * self.head(self.features(images)).view(-1)


def images(n: int = 4, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 28, 28, generator=generator) * 2 - 1


def build_regularizer(name: str) -> nn.Module:
    if name == "centroid":  # needs statistics: fit on tiny random data in a small space
        regularizer = get_regularizer("centroid", feature_space="mnist-features", progress=False)
        return regularizer.fit(images(16, seed=5))
    return get_regularizer(name)


def d_batch(discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> DiscriminatorBatch:
    return DiscriminatorBatch(
        discriminator, real, fake, discriminator(real), discriminator(fake), step=1
    )


def apply(regularizer: nn.Module, discriminator: nn.Module, real, fake) -> torch.Tensor:
    torch.manual_seed(1)  # regularizers that draw random numbers draw the same ones
    if regularizer_side(regularizer) == "discriminator":
        return regularizer(d_batch(discriminator, real, fake))
    fake = fake if fake.requires_grad else fake.clone().requires_grad_(True)
    if needs_batch(regularizer):  # D's features: feature matching
        return regularizer(GeneratorBatch(fake, real, discriminator.requires_grad_(False), 1))
    return regularizer(fake)


@pytest.mark.parametrize("name", REGULARIZERS)
@pytest.mark.parametrize("scale", [1.0, 100.0])  # D outputs near 0, and of size ±100
def test_regularizer_is_a_finite_scalar_whose_gradient_reaches_its_player(
    name: str, scale: float
) -> None:
    regularizer = build_regularizer(name)
    discriminator = TinyDiscriminator(scale)
    real, fake = images(seed=1), (images(seed=2) * 0.9).requires_grad_(True)
    value = apply(regularizer, discriminator, real, fake)
    assert value.shape == () and torch.isfinite(value)
    value.backward()
    if regularizer_side(regularizer) == "discriminator":
        gradients = [p.grad for p in discriminator.parameters() if p.grad is not None]
        assert gradients and all(torch.isfinite(g).all() for g in gradients)
        assert sum(g.abs().sum() for g in gradients) > 0
    else:
        assert torch.isfinite(fake.grad).all() and fake.grad.abs().sum() > 0


@pytest.mark.parametrize("name", REGULARIZERS)
def test_regularizer_under_bf16_autocast_is_finite_and_close(name: str) -> None:
    discriminator, real, fake = TinyDiscriminator(), images(seed=1), images(seed=2)
    reference = apply(build_regularizer(name), discriminator, real, fake)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        value = apply(build_regularizer(name), discriminator, real, fake)
    assert torch.isfinite(value)
    assert value.float().item() == pytest.approx(reference.item(), rel=5e-2, abs=1e-3)


@pytest.mark.parametrize("name", sorted(set(REGULARIZERS) - RANDOM_PER_SAMPLE))
def test_regularizer_is_batch_size_independent(name: str) -> None:
    discriminator, real, fake = TinyDiscriminator(), images(seed=1), images(seed=2)
    once = apply(build_regularizer(name), discriminator, real, fake)
    twice = apply(
        build_regularizer(name), discriminator, real.repeat(2, 1, 1, 1), fake.repeat(2, 1, 1, 1)
    )
    assert twice.item() == pytest.approx(once.item(), rel=1e-5)


@pytest.mark.parametrize("name", REGULARIZERS)
def test_regularizer_state_round_trips_through_state_dict(name: str) -> None:
    used = build_regularizer(name)
    apply(used, TinyDiscriminator(), images(seed=1), images(seed=2))  # state may move
    state = used.state_dict()
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    fresh = build_regularizer(name) if name == "centroid" else get_regularizer(name)
    fresh.load_state_dict(state)
    for key, value in fresh.state_dict().items():
        assert torch.equal(value, state[key]), key
    discriminator, real, fake = TinyDiscriminator(), images(seed=3), images(seed=4)
    assert apply(fresh, discriminator, real, fake).item() == pytest.approx(
        apply(used, discriminator, real, fake).item(), rel=1e-6
    )


@pytest.mark.parametrize("name", REGULARIZERS)
def test_regularizer_keeps_its_tensor_state_in_buffers(name: str) -> None:
    regularizer = build_regularizer(name)
    apply(regularizer, TinyDiscriminator(), images(seed=1), images(seed=2))
    registered = {id(t) for t in [*regularizer.parameters(), *regularizer.buffers()]}
    for module in regularizer.modules():
        loose = [
            key
            for key, value in vars(module).items()
            if isinstance(value, torch.Tensor) and id(value) not in registered
        ]
        assert not loose, f"{type(module).__name__} keeps tensors outside buffers: {loose}"


# -- augmentations -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", AUGMENTATIONS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_augmentation_keeps_shape_and_dtype_and_passes_finite_gradients(
    name: str, dtype: torch.dtype
) -> None:
    augment = get_augmentation(name)
    x = (images(3, seed=1).repeat(1, 3, 1, 1) * 100).to(dtype).requires_grad_(True)  # extreme
    out = augment(x)
    assert out.shape == x.shape and out.dtype == dtype and torch.isfinite(out).all()
    out.float().sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


@pytest.mark.parametrize("name", AUGMENTATIONS)
def test_augmentation_is_reproducible_from_the_global_seed_and_round_trips_its_state(
    name: str,
) -> None:
    augment = get_augmentation(name)
    x = images(3, seed=1)
    torch.manual_seed(0)
    first = augment(x)
    fresh = get_augmentation(name)
    fresh.load_state_dict(augment.state_dict())
    torch.manual_seed(0)
    assert torch.equal(fresh(x), first)


# -- feature spaces ----------------------------------------------------------------------------


def build_space(name: str) -> nn.Module:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the random-weights warning is expected here
            torch.manual_seed(0)
            return get_feature_space(name, **SPACE_OPTIONS.get(name, {}))
    except (MissingExtraError, WeightsUnavailableError) as error:
        pytest.skip(f"{name}: {error}")


@pytest.mark.parametrize("name", FEATURE_SPACES)
def test_feature_space_contract(name: str) -> None:
    space = build_space(name)
    assert isinstance(space.descriptor, Mapping) and space.descriptor
    assert not any(p.requires_grad for p in space.parameters())
    space.train()
    assert not any(m.training for m in space.modules()), "stays in eval mode"
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    x.requires_grad_(True)
    features = space(x)
    assert features.dim() == 2 and features.shape[0] == 2
    assert features.dtype == torch.float32 and torch.isfinite(features).all()
    single = space(x[:1].detach())
    torch.testing.assert_close(single, features[:1].detach(), rtol=1e-4, atol=1e-5)
    if getattr(space, "differentiable", True):
        # a seeded random direction, not features.sum(): the sum of a LayerNorm output with unit
        # weight and zero bias (a randomly initialised ViT's) does not depend on the input, so
        # its gradient is zero up to rounding, and whether rounding leaves it > 0 is machine luck
        direction = torch.randn(features.shape, generator=torch.Generator().manual_seed(1))
        (features * direction).sum().backward()
        assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
