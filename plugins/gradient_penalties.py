"""Gradient penalties on the discriminator: R1, R2 (Mescheder et al., 2018) and WGAN-GP
(Gulrajani et al., 2017). Discriminator-side regularizers (``side = "discriminator"``).

* ``r1``: ``γ/2 · E_x[‖∇ₓD(x)‖²]`` on the real images (default γ = 10);
* ``r2``: ``γ/2 · E_x̂[‖∇D(x̂)‖²]`` on the generated images;
* ``gradient-penalty``: ``λ · E[(‖∇D(x̃)‖₂ − 1)²]`` on ``x̃ = ε x + (1 − ε) x̂``,
  ``ε ~ U[0, 1]`` per sample from torch's global RNG (default λ = 10).

The gradients are taken with respect to the images as the discriminator saw them (after the
augmentation, which the batch's ``real``/``fake`` already carry), in float32 even under bf16
autocast (D is re-run on float32 inputs with autocast disabled), with ``create_graph=True`` so the
penalty trains D. Each penalty re-runs D on its images (one extra forward and double backward).
Under DDP, the training loop passes the plain (unwrapped) discriminator in the batch, so the
extra forward does not take part in DDP's gradient bucketing. Lazy application (``every=k``,
StyleGAN2's lazy R1) is done by the training loop, not here.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from gan_regularizers.errors import GradientPenaltyError, InvalidOptionError
from gan_regularizers.plugin_system.contracts import DiscriminatorBatch
from gan_regularizers.plugin_system.hookspecs import Register, hookimpl


def check_weight(value: float, *, name: str, option: str) -> float:
    """A finite number ``≥ 0``, or an error naming the option."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidOptionError(f"{name}: {option} must be a number ≥ 0, got {value!r}.")
    if not math.isfinite(value) or value < 0:
        raise InvalidOptionError(
            f"{name}: {option} must be a finite number ≥ 0, got {value!r}; e.g. {name}:{option}=10."
        )
    return float(value)


def input_gradients(
    discriminator: nn.Module, images: torch.Tensor, name: str = "gradient penalty"
) -> torch.Tensor:
    """``∇ₓ Σᵢ D(xᵢ)``, one gradient per sample, in at least float32, with ``create_graph=True``.

    D runs with autocast disabled on a float32 (or float64) copy of ``images``.

    Raises:
        GradientPenaltyError: D's output does not depend on its input (no gradient exists).
    """
    dtype = torch.promote_types(images.dtype, torch.float32)
    inputs = images.detach().to(dtype).requires_grad_(True)
    with torch.autocast(device_type=inputs.device.type, enabled=False):
        logits = discriminator(inputs)
    gradients = None
    if isinstance(logits, torch.Tensor) and logits.requires_grad:
        (gradients,) = torch.autograd.grad(
            logits.to(dtype).sum(), inputs, create_graph=True, allow_unused=True
        )
    if gradients is None:
        raise GradientPenaltyError(
            f"{name}: the discriminator's output does not depend on its input images, so "
            "∇ₓD(x) does not exist and the penalty means nothing. A gradient penalty needs "
            "D(x) computed from x: check that D's forward uses its input (no .detach(), no "
            "torch.no_grad(), no constant output), or drop the penalty."
        )
    return gradients


def squared_gradient_norm(
    discriminator: nn.Module, images: torch.Tensor, name: str = "gradient penalty"
) -> torch.Tensor:
    """``E[‖∇ₓD(x)‖²]`` over the batch."""
    gradients = input_gradients(discriminator, images, name)
    return gradients.square().flatten(1).sum(dim=1).mean()


def r1_penalty(discriminator: nn.Module, real: torch.Tensor, gamma: float = 10.0) -> torch.Tensor:
    """``γ/2 · E[‖∇ₓD(x)‖²]`` on real images (R1)."""
    return 0.5 * gamma * squared_gradient_norm(discriminator, real, "r1")


def r2_penalty(discriminator: nn.Module, fake: torch.Tensor, gamma: float = 10.0) -> torch.Tensor:
    """``γ/2 · E[‖∇D(x̂)‖²]`` on generated images (R2)."""
    return 0.5 * gamma * squared_gradient_norm(discriminator, fake, "r2")


def interpolates(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """``ε x + (1 − ε) x̂`` with one ``ε ~ U[0, 1]`` per sample (torch's global RNG)."""
    if real.shape != fake.shape:
        raise InvalidOptionError(
            f"gradient-penalty: interpolates pair real and fake images one to one, but real has "
            f"shape {tuple(real.shape)} and fake {tuple(fake.shape)}. Use equal batch sizes."
        )
    dtype = torch.promote_types(real.dtype, torch.float32)
    shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    epsilon = torch.rand(shape, device=real.device, dtype=dtype)
    return epsilon * real.detach().to(dtype) + (1 - epsilon) * fake.detach().to(dtype)


def wgan_gradient_penalty(
    discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor, weight: float = 10.0
) -> torch.Tensor:
    """``λ · E[(‖∇D(x̃)‖₂ − 1)²]`` on random interpolates ``x̃`` (WGAN-GP)."""
    gradients = input_gradients(discriminator, interpolates(real, fake), "gradient-penalty")
    norms = gradients.flatten(1).norm(dim=1)
    return weight * (norms - 1).square().mean()


class R1Penalty(nn.Module):
    """R1: ``γ/2 · E[‖∇ₓD(x)‖²]`` on the real images of the batch."""

    side = "discriminator"

    def __init__(self, gamma: float = 10.0) -> None:
        super().__init__()
        self.gamma = check_weight(gamma, name="r1", option="gamma")

    def forward(self, batch: DiscriminatorBatch) -> torch.Tensor:
        """The weighted penalty, ready to add to L_D."""
        return r1_penalty(batch.discriminator, batch.real, self.gamma)

    def extra_repr(self) -> str:
        return f"gamma={self.gamma}"


class R2Penalty(R1Penalty):
    """R2: ``γ/2 · E[‖∇D(x̂)‖²]`` on the generated images of the batch."""

    def __init__(self, gamma: float = 10.0) -> None:
        nn.Module.__init__(self)
        self.gamma = check_weight(gamma, name="r2", option="gamma")

    def forward(self, batch: DiscriminatorBatch) -> torch.Tensor:
        """The weighted penalty, ready to add to L_D."""
        return r2_penalty(batch.discriminator, batch.fake, self.gamma)


class WGANGradientPenalty(nn.Module):
    """WGAN-GP: ``λ · E[(‖∇D(x̃)‖₂ − 1)²]`` on random interpolates of the batch's images.

    The batch's images are already augmented, so the interpolates are not augmented again.
    """

    side = "discriminator"

    def __init__(self, weight: float = 10.0) -> None:
        super().__init__()
        self.weight = check_weight(weight, name="gradient-penalty", option="weight")

    def forward(self, batch: DiscriminatorBatch) -> torch.Tensor:
        """The weighted penalty, ready to add to L_D."""
        return wgan_gradient_penalty(batch.discriminator, batch.real, batch.fake, self.weight)

    def extra_repr(self) -> str:
        return f"weight={self.weight}"


@hookimpl
def register_regularizers(register: Register) -> None:
    register("r1", R1Penalty)
    register("r2", R2Penalty)
    register("gradient-penalty", WGANGradientPenalty)
