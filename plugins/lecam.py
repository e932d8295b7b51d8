"""LeCam regularization (Tseng et al., 2021, "Regularizing Generative Adversarial Networks under
Limited Data"), a discriminator-side regularizer.

``λ · (E[relu(D(x) − α_F)²] + E[relu(α_R − D(x̂))²])`` with exponential moving averages of the
discriminator's mean outputs, ``α_R ← decay · α_R + (1 − decay) · mean D(x)`` and
``α_F ← decay · α_F + (1 − decay) · mean D(x̂)`` (decay 0.99, both starting at 0, as StudioGAN).

Order at each call (each discriminator step the loop applies it): first the anchors are updated
with this batch's detached means, then the penalty is computed against the updated anchors. The
anchors live in registered buffers (``anchor_real``, ``anchor_fake``, ``updates``), so
``state_dict()`` and the training checkpoints carry them and a resumed run continues exactly.
Under DDP the batch means are averaged over the ranks first, so every rank holds the same anchors.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gan_regularizers.distributed import all_reduce_sum, rank_and_world_size
from gan_regularizers.errors import InvalidOptionError
from gan_regularizers.plugin_system.contracts import DiscriminatorBatch
from gan_regularizers.plugin_system.hookspecs import Register, hookimpl
from gan_regularizers.plugins.gradient_penalties import check_weight


def lecam_penalty(
    real_logits: torch.Tensor,
    fake_logits: torch.Tensor,
    anchor_real: torch.Tensor,
    anchor_fake: torch.Tensor,
) -> torch.Tensor:
    """``E[relu(D(x) − α_F)²] + E[relu(α_R − D(x̂))²]`` (unweighted), in at least float32."""
    dtype = torch.promote_types(real_logits.dtype, torch.float32)
    real_term = F.relu(real_logits.to(dtype) - anchor_fake.to(dtype)).square().mean()
    fake_term = F.relu(anchor_real.to(dtype) - fake_logits.to(dtype)).square().mean()
    return real_term + fake_term


class LeCamRegularizer(nn.Module):
    """LeCam: ``λ (E[relu(D(x) − α_F)²] + E[relu(α_R − D(x̂))²])`` with EMA anchors α."""

    side = "discriminator"

    def __init__(self, weight: float = 0.3, decay: float = 0.99) -> None:
        super().__init__()
        self.weight = check_weight(weight, name="lecam", option="weight")
        if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not 0 <= decay < 1:
            raise InvalidOptionError(
                f"lecam: decay must be a number in [0, 1), got {decay!r}; e.g. lecam:decay=0.99."
            )
        self.decay = float(decay)
        self.register_buffer("anchor_real", torch.zeros((), dtype=torch.float32))
        self.register_buffer("anchor_fake", torch.zeros((), dtype=torch.float32))
        self.register_buffer("updates", torch.zeros((), dtype=torch.int64))

    @torch.no_grad()
    def update_anchors(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> None:
        """``α ← decay · α + (1 − decay) · mean D`` for both anchors (means over all ranks)."""
        means = torch.stack(
            [real_logits.detach().float().mean(), fake_logits.detach().float().mean()]
        )
        means = all_reduce_sum(means) / rank_and_world_size()[1]
        means = means.to(self.anchor_real.device)
        self.anchor_real.mul_(self.decay).add_((1 - self.decay) * means[0])
        self.anchor_fake.mul_(self.decay).add_((1 - self.decay) * means[1])
        self.updates.add_(1)

    def forward(self, batch: DiscriminatorBatch) -> torch.Tensor:
        """Update the anchors with this batch, then return the weighted penalty."""
        self.update_anchors(batch.real_logits, batch.fake_logits)
        penalty = lecam_penalty(
            batch.real_logits, batch.fake_logits, self.anchor_real, self.anchor_fake
        )
        return self.weight * penalty

    @property
    def diagnostics(self) -> dict[str, float]:
        """The anchors, for logging."""
        return {"anchor_real": float(self.anchor_real), "anchor_fake": float(self.anchor_fake)}

    def extra_repr(self) -> str:
        return f"weight={self.weight}, decay={self.decay}"


@hookimpl
def register_regularizers(register: Register) -> None:
    register("lecam", LeCamRegularizer)
