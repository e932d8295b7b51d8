"""A sign controller (ADA's rule) that steers one number to hold a measured quantity at a target.

After each training step that saw ``n`` images, with ``m`` the measured quantity (e.g. the
fraction of generated samples the centroid penalised):

``value ← clamp(value + direction · sign(m − target) · n / (rate_kimg · 1000) · scale,
minimum, maximum)``

so the value moves by at most ``scale`` per ``rate_kimg`` thousand images, up while the
measurement is above the target (``direction = +1``: more pressure pulls it down), down while it
is below, and not at all when it is on target. This is the rule StyleGAN2-ADA uses for the
augmentation probability (``p += sign(r_t − 0.6) · n / (ada_kimg · 1000)``), with ``scale`` making
it usable for numbers that are not probabilities (``scale`` = the starting value: λ can double,
or reach 0, in ``rate_kimg`` thousand images).

``SignRule`` is the rule; ``Steered`` wraps any regularizer that reports a diagnostic
and steers one of its options by it (``Steered(get_regularizer("r1"), option="gamma",
diagnostic=..., target=...)``). The training loop calls ``adapt(images)`` once per step on every
regularizer that has it; the steered value is a registered buffer, so checkpoints carry it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from gan_regularizers.distributed import (
    all_reduce_sum,
    collective_device,
    is_distributed,
    rank_and_world_size,
)
from gan_regularizers.errors import InvalidOptionError


@dataclass(frozen=True)
class SignRule:
    """``value ← clamp(value + direction · sign(m − target) · n/(rate_kimg·1000) · scale)``."""

    target: float
    rate_kimg: float
    scale: float
    minimum: float = 0.0
    maximum: float = math.inf
    direction: int = 1

    def __post_init__(self) -> None:
        if not (isinstance(self.rate_kimg, (int, float)) and self.rate_kimg > 0):
            raise InvalidOptionError(
                f"rate_kimg must be a number of thousands of images > 0 (how fast the controller "
                f"may move the value by its scale), got {self.rate_kimg!r}; e.g. rate_kimg=10."
            )
        if not (math.isfinite(self.scale) and self.scale > 0):
            raise InvalidOptionError(
                f"the controller's scale (its starting value) must be > 0, got {self.scale!r}: "
                "a value of 0 gives the controller no step size. Start from a positive value."
            )
        if self.direction not in (1, -1):
            raise InvalidOptionError(f"direction must be +1 or -1, got {self.direction!r}.")

    def step_size(self, images: int) -> float:
        """``n / (rate_kimg · 1000) · scale``."""
        return images / (self.rate_kimg * 1000.0) * self.scale

    def next(self, value: float, measured: float, images: int) -> float:
        """The value after one step that measured ``measured`` over ``images`` images."""
        sign = (measured > self.target) - (measured < self.target)
        moved = value + self.direction * sign * self.step_size(images)
        return min(max(moved, self.minimum), self.maximum)


def mean_over_ranks(value: float) -> float:
    """``value`` averaged over the processes of a distributed run (itself otherwise)."""
    if not is_distributed():
        return value
    _, world_size = rank_and_world_size()
    local = torch.tensor([value], dtype=torch.float64, device=collective_device())
    return float(all_reduce_sum(local)) / world_size


class Steered(nn.Module):
    """Any regularizer with one option steered by one of its ``diagnostics``.

    Args:
        module: the regularizer (``diagnostics`` must hold ``diagnostic`` after each call).
        option: the attribute to steer (e.g. ``"weight"``, ``"gamma"``); its value now is the
            controller's starting value and its scale.
        diagnostic: the key of ``module.diagnostics`` to hold at ``target``.
        target: the target value of the diagnostic.
        rate_kimg: thousands of images for the option to move by its starting value.
        direction: ``+1`` raises the option while the diagnostic is above target, ``-1`` lowers.

    ``forward`` sets the option from the buffer ``value`` and calls the module; ``adapt(images)``
    applies the ``SignRule``. Every other attribute is the wrapped module's.
    """

    def __init__(
        self,
        module: Any,
        option: str,
        diagnostic: str,
        target: float,
        rate_kimg: float = 10.0,
        direction: int = 1,
    ) -> None:
        super().__init__()
        if not hasattr(module, option):
            raise InvalidOptionError(
                f"Steered: {type(module).__name__} has no attribute {option!r} to steer; name an "
                "option the module reads at each call (e.g. 'weight' or 'gamma')."
            )
        self.module = module
        self.option, self.diagnostic = option, diagnostic
        self.rule = SignRule(target, rate_kimg, float(getattr(module, option)), direction=direction)
        self.register_buffer("value", torch.tensor(self.rule.scale, dtype=torch.float64))

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self._modules["module"], name)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        setattr(self.module, self.option, float(self.value))
        return self.module(*args, **kwargs)

    def adapt(self, images: int) -> None:
        """One controller step on the module's last ``diagnostics[diagnostic]``."""
        measured = dict(getattr(self.module, "diagnostics", {}) or {})
        if self.diagnostic not in measured:
            raise InvalidOptionError(
                f"Steered: {type(self.module).__name__}.diagnostics has no {self.diagnostic!r} "
                f"(it has {sorted(measured) or 'nothing yet'}); steer by a key it reports."
            )
        fraction = mean_over_ranks(float(measured[self.diagnostic]))
        self.value.fill_(self.rule.next(float(self.value), fraction, images))
        setattr(self.module, self.option, float(self.value))

    @property
    def diagnostics(self) -> dict[str, float]:
        """The module's diagnostics plus the steered option's current value."""
        own = dict(getattr(self.module, "diagnostics", {}) or {})
        return {**own, self.option: float(self.value)}
