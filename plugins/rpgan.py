"""Relativistic pairing GAN loss (Jolicoeur-Martineau, 2019; the RpGAN of R3GAN, Huang et al. 2024).

Each fake is paired with the real at the same batch index:

* discriminator: ``L_D = E[softplus(D(x̂) − D(x))]``;
* generator: ``L_G = E[softplus(D(x) − D(x̂))]``.

The generator step needs ``D(x)`` as well, so ``generator_loss(fake_logits, real_logits)``
requires ``real_logits``; real and fake batches must have the same size. R3GAN pairs it with R1 + R2
(``--regularizer r1 --regularizer r2``). Logged summary: the raw mean of ``D`` with no reference
line (only differences D(x) − D(x̂) matter).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gan_regularizers.checks.logits import (
    ProbabilityCheck,
    at_least_float32,
    check_logits,
    check_paired,
    require_real_logits,
)
from gan_regularizers.plugin_system.contracts import LogitSummary
from gan_regularizers.plugin_system.hookspecs import Register, hookimpl


def rpgan_discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """``E[softplus(D(x̂) − D(x))]`` over pairs ``(x_i, x̂_i)``."""
    check_logits(fake_logits, real_logits, loss="rpgan")
    check_paired(real_logits, fake_logits, loss="rpgan")
    difference = at_least_float32(fake_logits) - at_least_float32(real_logits)
    return F.softplus(difference).mean()


def rpgan_generator_loss(
    fake_logits: torch.Tensor, real_logits: torch.Tensor | None = None
) -> torch.Tensor:
    """``E[softplus(D(x) − D(x̂))]``; ``real_logits`` is required."""
    real_logits = require_real_logits(real_logits, loss="rpgan")
    check_logits(fake_logits, real_logits, loss="rpgan")
    check_paired(real_logits, fake_logits, loss="rpgan")
    difference = at_least_float32(real_logits) - at_least_float32(fake_logits)
    return F.softplus(difference).mean()


class RpGANAdversarialLoss:
    """The relativistic pairing loss: see ``rpgan_discriminator_loss``."""

    logit_summary = LogitSummary("mean D(x)", None, None)
    requires_real_logits = True

    def __init__(self) -> None:
        self._probability_check = ProbabilityCheck("rpgan")

    def discriminator_loss(
        self, real_logits: torch.Tensor, fake_logits: torch.Tensor
    ) -> torch.Tensor:
        """``E[softplus(D(x̂) − D(x))]``."""
        value = rpgan_discriminator_loss(real_logits, fake_logits)
        self._probability_check(real_logits, fake_logits)
        return value

    def generator_loss(
        self, fake_logits: torch.Tensor, real_logits: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``E[softplus(D(x) − D(x̂))]``; raises a clear error without ``real_logits``."""
        value = rpgan_generator_loss(fake_logits, real_logits)
        self._probability_check(fake_logits, real_logits)
        return value

    def __repr__(self) -> str:
        return "RpGANAdversarialLoss()"


@hookimpl
def register_losses(register: Register) -> None:
    register("rpgan", RpGANAdversarialLoss)
