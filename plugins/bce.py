"""The original GAN loss (Goodfellow et al., 2014) on discriminator logits, as binary cross-entropy.

With ``D(x) = sigmoid(l)`` for a logit ``l``, and ``-log sigmoid(l) = softplus(-l)``,
``-log(1 - sigmoid(l)) = softplus(l)``:

* discriminator: ``L_D = E[softplus(-l_real)] + E[softplus(l_fake)]``
  ( ``= -log D(x) - log(1 - D(G(z)))`` = BCE(D(x), 1) + BCE(D(G(z)), 0) );
* generator, non-saturating (default, the paper's ``BCE(D(x̂), 1)``):
  ``L_G = E[softplus(-l_fake)] = -log D(G(z))``;
* generator, saturating (the original minimax form): ``L_G = E[-softplus(l_fake)]
  = log(1 - D(G(z)))``.

softplus is evaluated stably for any logit, so logits of ±100 give finite values and gradients.
The loss object is a plain object, not an ``nn.Module``: it has no parameters or state to move or
save. Logged summary: mean ``sigmoid(D(x))`` with the 0.5 equilibrium line.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gan_regularizers.checks.logits import ProbabilityCheck, at_least_float32, check_logits
from gan_regularizers.plugin_system.contracts import LogitSummary
from gan_regularizers.plugin_system.hookspecs import Register, hookimpl


def bce_discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """``E[softplus(-l_real)] + E[softplus(l_fake)]`` = ``-log D(x) - log(1 - D(G(z)))``."""
    check_logits(fake_logits, real_logits, loss="bce")
    real_term = F.softplus(-at_least_float32(real_logits)).mean()
    fake_term = F.softplus(at_least_float32(fake_logits)).mean()
    return real_term + fake_term


def bce_generator_loss(fake_logits: torch.Tensor, saturating: bool = False) -> torch.Tensor:
    """Non-saturating ``E[softplus(-l_fake)]``; saturating ``E[-softplus(l_fake)]``."""
    check_logits(fake_logits, loss="bce")
    logits = at_least_float32(fake_logits)
    if saturating:
        return -F.softplus(logits).mean()
    return F.softplus(-logits).mean()


class BCEAdversarialLoss:
    """The binary cross-entropy GAN loss on logits; ``saturating=True`` selects the minimax
    generator loss. Not ``torch.nn.BCELoss``: this one takes raw logits and owns both players'
    losses; call ``discriminator_loss`` and ``generator_loss``."""

    logit_summary = LogitSummary("D(x)", torch.sigmoid, 0.5, bounds=(0.0, 1.0))
    requires_real_logits = False

    def __init__(self, saturating: bool = False) -> None:
        if not isinstance(saturating, bool):
            raise TypeError(f"bce: saturating must be True or False, got {saturating!r}.")
        self.saturating = saturating
        self._probability_check = ProbabilityCheck("bce")

    def discriminator_loss(
        self, real_logits: torch.Tensor, fake_logits: torch.Tensor
    ) -> torch.Tensor:
        """See ``bce_discriminator_loss``."""
        value = bce_discriminator_loss(real_logits, fake_logits)
        self._probability_check(real_logits, fake_logits)
        return value

    def generator_loss(
        self, fake_logits: torch.Tensor, real_logits: torch.Tensor | None = None
    ) -> torch.Tensor:
        """See ``bce_generator_loss``; ``real_logits`` is accepted and unused."""
        value = bce_generator_loss(fake_logits, saturating=self.saturating)
        self._probability_check(fake_logits)
        return value

    def __repr__(self) -> str:
        return f"BCEAdversarialLoss(saturating={self.saturating})"


@hookimpl
def register_losses(register: Register) -> None:
    register("bce", BCEAdversarialLoss)
