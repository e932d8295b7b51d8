"""Schedules for any numeric option, and the loop's table of scheduled options.

``gan_regularizers.schedules.linear(start, end, steps)``, ``cosine(start, end, steps)`` and
``step(values, boundaries)`` (``images=True``: lengths in thousands of images) are accepted
wherever an option takes a number: in a spec (``r1:gamma=linear(10,1,2000)``), as a keyword of
``get_regularizer``/``get_loss``/``get_augmentation``, or attached to a module you built with
``attach``. The training loop evaluates them before every step (see docs/schedules.md).
"""

from __future__ import annotations

from gan_regularizers.schedules.curves import (
    Cosine,
    Linear,
    Schedule,
    Step,
    cosine,
    linear,
    step,
    value_at,
)
from gan_regularizers.schedules.grammar import looks_like_schedule, parse_schedule
from gan_regularizers.schedules.options import (
    ScheduledOptions,
    attach,
    build_scheduled,
    scheduled_options,
)

__all__ = [
    "Cosine",
    "Linear",
    "Schedule",
    "ScheduledOptions",
    "Step",
    "attach",
    "build_scheduled",
    "cosine",
    "linear",
    "looks_like_schedule",
    "parse_schedule",
    "scheduled_options",
    "step",
    "value_at",
]
