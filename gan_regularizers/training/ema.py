"""An exponential moving average of the generator's weights (G-EMA), with a warm-up.

After each generator step ``t`` (1-based) every parameter ``θ`` of G updates the average
``θ_EMA ← β_t · θ_EMA + (1 − β_t) · θ`` with

``β_t = min(ema_decay, (1 + t) / (10 + t))``,

the warm-up of TensorFlow's ``ExponentialMovingAverage(num_updates=…)`` (also used by BigGAN):
early averages follow G closely (β_1 = 0.18, β_10 = 0.55, β_100 = 0.93) instead of staying frozen
near the random initial weights, and β reaches ``ema_decay`` = 0.999 after about 9,000 steps.
Buffers (BatchNorm running statistics) are copied from G, not averaged. The EMA generator is
saved in checkpoints under ``generator_ema``, draws the sample grids, and is the generator that
evaluation loads by default.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


def ema_beta(decay: float, step: int) -> float:
    """``min(decay, (1 + step) / (10 + step))``."""
    return min(decay, (1.0 + step) / (10.0 + step))


def make_ema(generator: nn.Module) -> nn.Module:
    """A frozen copy of ``generator`` that :func:`update_ema` keeps averaged."""
    ema = copy.deepcopy(generator)
    ema.requires_grad_(False)
    return ema


@torch.no_grad()
def update_ema(ema: nn.Module, generator: nn.Module, decay: float, step: int) -> float:
    """One EMA update after generator step ``step``; returns the β used."""
    beta = ema_beta(decay, step)
    for average, current in zip(ema.parameters(), generator.parameters(), strict=True):
        average.lerp_(current.detach(), 1.0 - beta)
    for average, current in zip(ema.buffers(), generator.buffers(), strict=True):
        average.copy_(current)
    return beta
