"""Schedules: a number that changes with training progress, as a small frozen dataclass.

Progress ``t`` is the number of training steps done before the current one (0 at the first step),
or, with ``images=True``, the thousands of images seen before it (``images_seen / 1000``, kimg):

* ``linear(start, end, steps)``: ``start + (end − start) · min(t / steps, 1)``;
* ``cosine(start, end, steps)``: ``end + (start − end) · (1 + cos(π · min(t / steps, 1))) / 2``;
* ``step(values, boundaries)``: ``values[i]`` with ``i`` the number of boundaries ``≤ t``.

Each schedule's ``repr`` is its spec text (``linear(10, 1, 2000)``, ``cosine(2e-4, 0, 500kimg)``,
``step([1, 0.5], [1000])``), which ``parse_schedule``
reads back, so a schedule survives a config file and a checkpoint as a string.
"""

from __future__ import annotations

import bisect
import itertools
import math
from dataclasses import dataclass
from typing import Any

from gan_regularizers.errors import InvalidOptionError


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidOptionError(f"{what} must be a finite number, got {value!r}.")
    return float(value)


def _text(value: float) -> str:
    """``10.0`` → ``"10"``, ``0.0002`` → ``"0.0002"``: the shortest exact form."""
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


@dataclass(frozen=True)
class Schedule:
    """Base class: ``value(step, images_seen)`` and the unit of progress."""

    images: bool = False

    def progress(self, step: int, images_seen: int = 0) -> float:
        """``t``: steps done, or thousands of images seen with ``images=True``."""
        return images_seen / 1000.0 if self.images else float(step)

    def value(self, step: int, images_seen: int = 0) -> float:
        """The value after ``step`` training steps that saw ``images_seen`` images in all."""
        raise NotImplementedError

    def bounds(self) -> tuple[float, float]:
        """The smallest and largest value the schedule takes (for range checks)."""
        raise NotImplementedError

    def _length(self, value: float) -> str:
        return f"{_text(value)}kimg" if self.images else _text(value)


@dataclass(frozen=True)
class _Ramp(Schedule):
    """A ramp from ``start`` to ``end`` over ``steps`` (kimg with ``images=True``)."""

    start: float = 0.0
    end: float = 0.0
    steps: float = 1.0

    def __post_init__(self) -> None:
        name = type(self).__name__.lower()
        object.__setattr__(self, "start", _number(self.start, f"{name}: start"))
        object.__setattr__(self, "end", _number(self.end, f"{name}: end"))
        length = _number(self.steps, f"{name}: steps")
        if not length > 0:
            unit = "thousands of images" if self.images else "training steps"
            raise InvalidOptionError(
                f"{name}: the length must be > 0 {unit}, got {self.steps!r}; e.g. "
                f"{name}(1, 0.1, 2000) ramps from 1 to 0.1 over 2000 steps."
            )
        object.__setattr__(self, "steps", length)

    def fraction(self, step: int, images_seen: int = 0) -> float:
        """``min(t / steps, 1)``."""
        return min(self.progress(step, images_seen) / self.steps, 1.0)

    def bounds(self) -> tuple[float, float]:
        return min(self.start, self.end), max(self.start, self.end)

    def __repr__(self) -> str:
        name = type(self).__name__.lower()
        return f"{name}({_text(self.start)}, {_text(self.end)}, {self._length(self.steps)})"


@dataclass(frozen=True, repr=False)
class Linear(_Ramp):
    """``start + (end − start) · min(t / steps, 1)``."""

    def value(self, step: int, images_seen: int = 0) -> float:
        return self.start + (self.end - self.start) * self.fraction(step, images_seen)


@dataclass(frozen=True, repr=False)
class Cosine(_Ramp):
    """``end + (start − end) · (1 + cos(π · min(t / steps, 1))) / 2`` (half a cosine)."""

    def value(self, step: int, images_seen: int = 0) -> float:
        fraction = self.fraction(step, images_seen)
        return self.end + (self.start - self.end) * 0.5 * (1.0 + math.cos(math.pi * fraction))


@dataclass(frozen=True, repr=False)
class Step(Schedule):
    """``values[i]`` with ``i = #{b ∈ boundaries : b ≤ t}`` (piecewise constant)."""

    values: tuple[float, ...] = (0.0,)
    boundaries: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        values = tuple(_number(v, "step: each value") for v in self.values)
        bounds = tuple(_number(b, "step: each boundary") for b in self.boundaries)
        if len(values) != len(bounds) + 1:
            raise InvalidOptionError(
                f"step: {len(values)} value(s) need {len(values) - 1} boundary(ies), got "
                f"{len(bounds)}; e.g. step([1, 0.5, 0.1], [1000, 2000]) holds 1 until step "
                "1000, 0.5 until 2000, then 0.1."
            )
        if any(b <= a for a, b in itertools.pairwise(bounds)) or any(b < 0 for b in bounds):
            raise InvalidOptionError(
                f"step: the boundaries must be ≥ 0 and strictly increasing, got {list(bounds)}."
            )
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "boundaries", bounds)

    def value(self, step: int, images_seen: int = 0) -> float:
        index = bisect.bisect_right(self.boundaries, self.progress(step, images_seen))
        return self.values[index]

    def bounds(self) -> tuple[float, float]:
        return min(self.values), max(self.values)

    def __repr__(self) -> str:
        values = ", ".join(_text(v) for v in self.values)
        bounds = ", ".join(self._length(b) for b in self.boundaries)
        return f"step([{values}], [{bounds}])"


def linear(start: float, end: float, steps: float, *, images: bool = False) -> Linear:
    """From ``start`` to ``end`` linearly over ``steps`` training steps (kimg if ``images``)."""
    return Linear(images=images, start=start, end=end, steps=steps)


def cosine(start: float, end: float, steps: float, *, images: bool = False) -> Cosine:
    """From ``start`` to ``end`` along half a cosine over ``steps`` (kimg if ``images``)."""
    return Cosine(images=images, start=start, end=end, steps=steps)


def step(values: Any, boundaries: Any, *, images: bool = False) -> Step:
    """``values[0]`` until ``boundaries[0]``, ``values[1]`` until ``boundaries[1]``, …"""
    return Step(images=images, values=tuple(values), boundaries=tuple(boundaries))


def value_at(value: Any, step: int, images_seen: int = 0) -> Any:
    """``value.value(step, images_seen)`` for a schedule, ``value`` itself otherwise."""
    return value.value(step, images_seen) if isinstance(value, Schedule) else value
