"""Wasserstein GAN loss (Arjovsky, Chintala & Bottou, 2017) on the critic's raw outputs.

* critic (discriminator): ``L_D = E[D(x̂)] − E[D(x)]``;
* generator: ``L_G = −E[D(x̂)]``.

The critic must be kept (about) 1-Lipschitz, e.g. with the ``gradient-penalty`` regularizer
(WGAN-GP); this loss alone does not do it. Logged summary: the raw mean of ``D`` with no reference
line (the critic is defined up to an additive constant).
"""

from __future__ import annotations

import torch

from gan_regularizers.checks.logits import ProbabilityCheck, at_least_float32, check_logits
from gan_regularizers.plugin_system.contracts import LogitSummary
from gan_regularizers.plugin_system.hookspecs import Register, hookimpl


def wasserstein_discriminator_loss(
    real_logits: torch.Tensor, fake_logits: torch.Tensor
) -> torch.Tensor:
    """``E[D(x̂)] − E[D(x)]`` (the negated estimate of the Wasserstein-1 distance)."""
    check_logits(fake_logits, real_logits, loss="wasserstein")
    return at_least_float32(fake_logits).mean() - at_least_float32(real_logits).mean()


def wasserstein_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """``−E[D(x̂)]``."""
    check_logits(fake_logits, loss="wasserstein")
    return -at_least_float32(fake_logits).mean()


class WassersteinAdversarialLoss:
    """The WGAN loss: see ``wasserstein_discriminator_loss``."""

    logit_summary = LogitSummary("mean D(x)", None, None)
    requires_real_logits = False

    def __init__(self) -> None:
        self._probability_check = ProbabilityCheck("wasserstein")

    def discriminator_loss(
        self, real_logits: torch.Tensor, fake_logits: torch.Tensor
    ) -> torch.Tensor:
        """``E[D(x̂)] − E[D(x)]``."""
        value = wasserstein_discriminator_loss(real_logits, fake_logits)
        self._probability_check(real_logits, fake_logits)
        return value

    def generator_loss(
        self, fake_logits: torch.Tensor, real_logits: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``−E[D(x̂)]``; ``real_logits`` is accepted and unused."""
        value = wasserstein_generator_loss(fake_logits)
        self._probability_check(fake_logits)
        return value

    def __repr__(self) -> str:
        return "WassersteinAdversarialLoss()"


@hookimpl
def register_losses(register: Register) -> None:
    register("wasserstein", WassersteinAdversarialLoss)
