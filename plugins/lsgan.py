"""Least-squares GAN loss (Mao et al., 2017) on raw discriminator outputs.

* discriminator: ``L_D = ½ E[(D(x) - b)²] + ½ E[(D(G(z)) - a)²]``;
* generator: ``L_G = ½ E[(D(G(z)) - c)²]``;

with the paper's 0-1 coding ``a = 0`` (fake), ``b = 1`` (real), ``c = 1`` (what G wants D to
believe). ``D(·)`` here is the discriminator's linear output: no sigmoid.
"""

from __future__ import annotations

import math

import torch

from gan_regularizers.checks.logits import at_least_float32, check_logits
from gan_regularizers.plugin_system.hookspecs import Register, hookimpl


def lsgan_discriminator_loss(
    real_logits: torch.Tensor, fake_logits: torch.Tensor, a: float = 0.0, b: float = 1.0
) -> torch.Tensor:
    """``½ E[(D(x) - b)²] + ½ E[(D(G(z)) - a)²]``."""
    check_logits(fake_logits, real_logits, loss="lsgan")
    real_term = 0.5 * (at_least_float32(real_logits) - b).square().mean()
    fake_term = 0.5 * (at_least_float32(fake_logits) - a).square().mean()
    return real_term + fake_term


def lsgan_generator_loss(fake_logits: torch.Tensor, c: float = 1.0) -> torch.Tensor:
    """``½ E[(D(G(z)) - c)²]``."""
    check_logits(fake_logits, loss="lsgan")
    return 0.5 * (at_least_float32(fake_logits) - c).square().mean()


class LSGANLoss:
    """Least-squares GAN loss with targets ``a`` (fake), ``b`` (real) and ``c`` (generator)."""

    def __init__(self, a: float = 0.0, b: float = 1.0, c: float = 1.0) -> None:
        for label, value in (("a", a), ("b", b), ("c", c)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"lsgan: {label} must be a number, got {value!r}.")
            if not math.isfinite(value):
                raise ValueError(f"lsgan: {label} must be finite, got {value!r}.")
        if a == b:
            raise ValueError(
                f"lsgan: a (fake target) and b (real target) are both {a}; the discriminator "
                "would learn nothing. Use distinct targets, e.g. a=0, b=1."
            )
        self.a, self.b, self.c = float(a), float(b), float(c)

    def discriminator_loss(
        self, real_logits: torch.Tensor, fake_logits: torch.Tensor
    ) -> torch.Tensor:
        """See :func:`lsgan_discriminator_loss`."""
        return lsgan_discriminator_loss(real_logits, fake_logits, a=self.a, b=self.b)

    def generator_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        """See :func:`lsgan_generator_loss`."""
        return lsgan_generator_loss(fake_logits, c=self.c)

    def __repr__(self) -> str:
        return f"LSGANLoss(a={self.a}, b={self.b}, c={self.c})"


@hookimpl
def register_losses(register: Register) -> None:
    register("lsgan", LSGANLoss)
