"""Scheduled options of plugins: how a schedule reaches the object that uses the number.

A plugin holds plain numbers; the schedule lives beside it in ``obj.scheduled_options``
(``{option: Schedule}``). ``build_scheduled`` builds a plugin from options some of which are
schedules (the registry's ``get_*`` and every spec go through it): the factory receives each
schedule's first value, then the schedules are attached. Before every training step the loop's
``ScheduledOptions`` writes each schedule's current value to the attribute of that name
(``setattr(obj, option, value)``, or ``fill_`` when the attribute is a tensor such as a
registered buffer), so the plugin's own code never sees a schedule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from gan_regularizers.errors import InvalidOptionError
from gan_regularizers.schedules.curves import Schedule
from gan_regularizers.schedules.grammar import parse_schedule

ATTRIBUTE = "scheduled_options"


def set_option(target: Any, option: str, value: float) -> None:
    """``target.option = value``; a tensor attribute (a buffer) is filled in place instead."""
    current = getattr(target, option)
    if isinstance(current, torch.Tensor):
        current.fill_(value)
    else:
        setattr(target, option, value)


def scheduled_options(target: object) -> dict[str, Schedule]:
    """The ``{option: schedule}`` attached to ``target`` (empty when none)."""
    return dict(getattr(target, ATTRIBUTE, None) or {})


def attach(target: Any, name: str | None = None, **schedules: Schedule | str) -> Any:
    """Schedule options of an object you built yourself; returns ``target``.

    ``attach(R1Penalty(), gamma=linear(10, 1, 2000))``: the attribute ``gamma`` is set to the
    schedule's first value now, and to its current value by the training loop before each step.

    Raises:
        InvalidOptionError: ``target`` has no attribute of an option's name.
    """
    label = name or type(target).__name__
    parsed = {option: parse_schedule(value) for option, value in schedules.items()}
    for option, schedule in parsed.items():
        if not hasattr(target, option):
            raise InvalidOptionError(
                f"{label}: option {option!r} was given a schedule ({schedule!r}), but the built "
                f"{type(target).__name__} has no attribute {option!r} for the training loop to "
                "set before each step, so this option cannot be scheduled. Give it a number."
            )
        set_option(target, option, schedule.value(0, 0))
    setattr(target, ATTRIBUTE, {**scheduled_options(target), **parsed})
    return target


def build_scheduled(factory: Callable[..., Any], options: Mapping[str, Any], name: str) -> Any:
    """``factory(**options)``, each schedule replaced by its first value and then attached."""
    schedules = {key: value for key, value in options.items() if isinstance(value, Schedule)}
    if not schedules:
        return factory(**options)
    first = {key: schedule.value(0, 0) for key, schedule in schedules.items()}
    return attach(factory(**{**options, **first}), name, **schedules)


@dataclass
class ScheduledOptions:
    """Every scheduled option of a run's plugins; ``apply`` sets them before each step.

    ``values`` holds the last applied values under their log names ``sched/<term>/<option>``.
    """

    entries: list[tuple[str, Any, str, Schedule]] = field(default_factory=list)
    values: dict[str, float] = field(default_factory=dict)

    @classmethod
    def collect(cls, owners: Mapping[str, Any]) -> ScheduledOptions:
        """The schedules attached to ``{term name: plugin}`` (``None`` plugins skipped)."""
        table = cls()
        for owner, target in owners.items():
            for option, schedule in scheduled_options(target).items():
                table.entries.append((owner, target, option, schedule))
        return table

    def __iter__(self) -> Iterator[tuple[str, Any, str, Schedule]]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def apply(self, step: int, images_seen: int) -> dict[str, float]:
        """Set every option to its value after ``step`` steps and ``images_seen`` images."""
        for owner, target, option, schedule in self.entries:
            value = schedule.value(step, images_seen)
            set_option(target, option, value)
            self.values[f"sched/{owner}/{option}"] = value
        return dict(self.values)
