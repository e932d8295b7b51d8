"""Least-squares GAN loss (Mao et al., 2017) on raw discriminator outputs.

* discriminator: ``L_D = ½ E[(D(x) - b)²] + ½ E[(D(G(z)) - a)²]``;
* generator: ``L_G = ½ E[(D(G(z)) - c)²]``;

with the paper's 0-1 coding ``a = 0`` (fake), ``b = 1`` (real), ``c = 1`` (what G wants D to
believe). ``D(·)`` here is the discriminator's linear output: no sigmoid. At the equilibrium
``p_g = p_data`` the optimal output is ``(a + b) / 2`` (0.5 for the 0-1 coding), which is the
reference line of its logged summary (the raw mean of ``D``).
"""

from __future__ import annotations

import math

import torch

from gan_regularizers.checks.logits import ProbabilityCheck, at_least_float32, check_logits
from gan_regularizers.errors import InvalidOptionError
from gan_regularizers.plugin_system.contracts import LogitSummary
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


class LSGANAdversarialLoss:
    """Least-squares GAN loss with targets ``a`` (fake), ``b`` (real) and ``c`` (generator).

    A plain object with ``discriminator_loss`` and ``generator_loss`` (not an ``nn.Module``)."""

    requires_real_logits = False

    def __init__(self, a: float = 0.0, b: float = 1.0, c: float = 1.0) -> None:
        for label, value in (("a", a), ("b", b), ("c", c)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"lsgan: {label} must be a number, got {value!r}.")
            if not math.isfinite(value):
                raise InvalidOptionError(f"lsgan: {label} must be finite, got {value!r}.")
        if a == b:
            raise InvalidOptionError(
                f"lsgan: a (fake target) and b (real target) are both {a}; the discriminator "
                "would learn nothing. Use distinct targets, e.g. a=0, b=1."
            )
        self.a, self.b, self.c = float(a), float(b), float(c)
        self.logit_summary = LogitSummary("mean D(x)", None, (self.a + self.b) / 2)
        self._probability_check = ProbabilityCheck("lsgan")

    def discriminator_loss(
        self, real_logits: torch.Tensor, fake_logits: torch.Tensor
    ) -> torch.Tensor:
        """See ``lsgan_discriminator_loss``."""
        value = lsgan_discriminator_loss(real_logits, fake_logits, a=self.a, b=self.b)
        self._probability_check(real_logits, fake_logits)
        return value

    def generator_loss(
        self, fake_logits: torch.Tensor, real_logits: torch.Tensor | None = None
    ) -> torch.Tensor:
        """See ``lsgan_generator_loss``; ``real_logits`` is accepted and unused."""
        value = lsgan_generator_loss(fake_logits, c=self.c)
        self._probability_check(fake_logits)
        return value

    def __repr__(self) -> str:
        return f"LSGANAdversarialLoss(a={self.a}, b={self.b}, c={self.c})"


@hookimpl
def register_losses(register: Register) -> None:
    register("lsgan", LSGANAdversarialLoss)
