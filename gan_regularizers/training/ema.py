"""An exponential moving average of the generator's weights (G-EMA), in two forms.

After each generator step every parameter ``θ`` of G updates the average
``θ_EMA ← β · θ_EMA + (1 − β) · θ``. Buffers (BatchNorm running statistics) are copied from G,
not averaged. The EMA generator is saved in checkpoints under ``generator_ema``, draws the sample
grids, and is the generator that evaluation loads by default. β comes from one of two config keys
(never both):

* ``ema_decay`` (per step, with a warm-up): ``β_t = min(ema_decay, (1 + t) / (10 + t))`` after
  step ``t`` (1-based), the warm-up of TensorFlow's ``ExponentialMovingAverage(num_updates=…)``
  (also BigGAN's): β_1 = 0.18, β_10 = 0.55, β_100 = 0.93, and ``ema_decay`` = 0.999 from about
  step 9,000.
* ``ema_kimg`` (StyleGAN2-ADA's half-life in thousands of images): with ``B`` the (global) batch
  size and ``n`` the images seen before this step, ``h = ema_kimg · 1000``, capped at
  ``ema_rampup · n`` when ``ema_rampup > 0``, and ``β = 0.5^(B / max(h, 1e-8))``: the average
  forgets half its weight every ``h`` images. With the ramp-up the first step copies G (``n = 0``)
  and the half-life grows with training until it reaches ``ema_kimg``.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


def ema_beta(decay: float, step: int) -> float:
    """``min(decay, (1 + step) / (10 + step))``."""
    return min(decay, (1.0 + step) / (10.0 + step))


def half_life_beta(
    batch_size: int, ema_kimg: float, images_seen: int, rampup: float = 0.0
) -> float:
    """``0.5^(B / max(h, 1e-8))`` with ``h = ema_kimg·1000``, capped at ``rampup · images_seen``.

    Args:
        batch_size: images per step over all ranks (``B``).
        ema_kimg: the half-life in thousands of images.
        images_seen: images seen before this step (``n``).
        rampup: ``ema_rampup``; 0 turns the ramp-up off (StyleGAN2-ADA uses 0.05).
    """
    half_life = ema_kimg * 1000.0
    if rampup > 0:
        half_life = min(half_life, images_seen * rampup)
    return 0.5 ** (batch_size / max(half_life, 1e-8))


def make_ema(generator: nn.Module) -> nn.Module:
    """A frozen copy of ``generator`` that ``update_ema`` keeps averaged."""
    ema = copy.deepcopy(generator)
    ema.requires_grad_(False)
    return ema


@torch.no_grad()
def apply_ema(ema: nn.Module, generator: nn.Module, beta: float) -> None:
    """``θ_EMA ← β θ_EMA + (1 − β) θ`` for every parameter; buffers copied."""
    for average, current in zip(ema.parameters(), generator.parameters(), strict=True):
        average.lerp_(current.detach(), 1.0 - beta)
    for average, current in zip(ema.buffers(), generator.buffers(), strict=True):
        average.copy_(current)


def update_ema(ema: nn.Module, generator: nn.Module, decay: float, step: int) -> float:
    """One ``ema_decay`` update after generator step ``step``; returns the β used."""
    beta = ema_beta(decay, step)
    apply_ema(ema, generator, beta)
    return beta
