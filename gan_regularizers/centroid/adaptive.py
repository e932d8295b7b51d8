"""The adaptive centroid: λ steered by the sign rule to hold the fraction penalised at a target.

With ``centroid:adaptive=true,target=τ,rate_kimg=r`` and ``f`` the fraction of the step's
generated samples with ``‖φ(x̂) − c‖ > d_ref`` (averaged over ranks), after each training step
that saw ``n`` images (``SignRule``, ADA's rule):

``λ ← max(0, λ + sign(f − τ) · n / (r · 1000) · λ₀)``

with ``λ₀`` the configured ``weight``: λ rises while more samples than ``τ`` lie outside the real
radius, falls while fewer do, and moves by at most ``λ₀`` per ``r`` thousand images. λ lives in
the buffer ``controller.weight`` (checkpointed, resumed exactly) and is logged as
``diag/centroid/weight``.
"""

from __future__ import annotations

import torch
from torch import nn

from gan_regularizers.control import SignRule, mean_over_ranks


class AdaptiveWeight(nn.Module):
    """λ and its controller; ``adapt(fraction, images)`` takes one controller step."""

    def __init__(self, weight: float, target: float, rate_kimg: float) -> None:
        super().__init__()
        self.rule = SignRule(target=target, rate_kimg=rate_kimg, scale=weight)
        self.register_buffer("weight", torch.tensor(float(weight), dtype=torch.float64))

    @property
    def value(self) -> float:
        """The current λ."""
        return float(self.weight)

    def adapt(self, fraction: float, images: int) -> float:
        """One step of the rule on this step's fraction penalised; returns the new λ."""
        measured = mean_over_ranks(fraction)
        self.weight.fill_(self.rule.next(self.value, measured, images))
        return self.value

    def extra_repr(self) -> str:
        return f"target={self.rule.target}, rate_kimg={self.rule.rate_kimg}, weight={self.value}"
