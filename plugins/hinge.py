"""Hinge GAN loss (Lim & Ye, 2017 "Geometric GAN"; used by SAGAN and BigGAN) on raw D outputs.

* discriminator: ``L_D = E[relu(1 − D(x))] + E[relu(1 + D(x̂))]``;
* generator: ``L_G = −E[D(x̂)]``.

Logged summary: the raw mean of ``D`` with no reference line: when ``p_g = p_data`` every constant
output in ``[−1, 1]`` is optimal for the discriminator, so the game has no single equilibrium value.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gan_regularizers.checks.logits import ProbabilityCheck, at_least_float32, check_logits
from gan_regularizers.plugin_system.contracts import LogitSummary
from gan_regularizers.plugin_system.hookspecs import Register, hookimpl


def hinge_discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """``E[relu(1 − D(x))] + E[relu(1 + D(x̂))]``."""
    check_logits(fake_logits, real_logits, loss="hinge")
    real_term = F.relu(1.0 - at_least_float32(real_logits)).mean()
    fake_term = F.relu(1.0 + at_least_float32(fake_logits)).mean()
    return real_term + fake_term


def hinge_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """``−E[D(x̂)]``."""
    check_logits(fake_logits, loss="hinge")
    return -at_least_float32(fake_logits).mean()


class HingeAdversarialLoss:
    """The hinge loss: see ``hinge_discriminator_loss`` and ``hinge_generator_loss``."""

    logit_summary = LogitSummary("mean D(x)", None, None)
    requires_real_logits = False

    def __init__(self) -> None:
        self._probability_check = ProbabilityCheck("hinge")

    def discriminator_loss(
        self, real_logits: torch.Tensor, fake_logits: torch.Tensor
    ) -> torch.Tensor:
        """``E[relu(1 − D(x))] + E[relu(1 + D(x̂))]``."""
        value = hinge_discriminator_loss(real_logits, fake_logits)
        self._probability_check(real_logits, fake_logits)
        return value

    def generator_loss(
        self, fake_logits: torch.Tensor, real_logits: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``−E[D(x̂)]``; ``real_logits`` is accepted and unused."""
        value = hinge_generator_loss(fake_logits)
        self._probability_check(fake_logits)
        return value

    def __repr__(self) -> str:
        return "HingeAdversarialLoss()"


@hookimpl
def register_losses(register: Register) -> None:
    register("hinge", HingeAdversarialLoss)
