"""The schedule grammar inside ``name:key=value`` specs and config values.

``linear(START, END, LENGTH)``, ``cosine(START, END, LENGTH)`` and
``step([V0, V1, …], [B1, …])``. A length or boundary is in training steps, or in thousands of
images with the suffix ``kimg`` (``linear(10, 1, 500kimg)``); one schedule uses one unit. Inside a
spec the commas of a schedule do not separate options: the spec parser splits only at commas
outside parentheses and brackets, so ``r1:gamma=linear(10,1,2000),every=16`` has two options.
"""

from __future__ import annotations

import re
from typing import Any

from gan_regularizers.errors import InvalidOptionError, SpecError
from gan_regularizers.schedules.curves import Schedule, cosine, linear, step

_CALL = re.compile(r"^\s*(linear|cosine|step)\s*\((.*)\)\s*$", re.DOTALL)
_KIMG = "kimg"
EXAMPLES = "linear(10, 1, 2000), cosine(2e-4, 0, 500kimg) or step([1, 0.5], [1000])"


def looks_like_schedule(text: Any) -> bool:
    """Whether ``text`` is written as a schedule call (``name(…)`` with a schedule's name)."""
    return isinstance(text, str) and _CALL.match(text) is not None


def split_top_level(text: str, separator: str = ",") -> list[str]:
    """``text`` split at ``separator``s outside ``()`` and ``[]``."""
    parts, depth, current = [], 0, []
    for char in text:
        depth += (char in "([") - (char in ")]")
        if char == separator and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _length(text: str, where: str) -> tuple[float, bool]:
    """``"2000"`` → ``(2000.0, False)``, ``"500kimg"`` → ``(500.0, True)``."""
    text = text.strip()
    images = text.lower().endswith(_KIMG)
    return _float(text[: -len(_KIMG)] if images else text, where), images


def _float(text: str, where: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise SpecError(f"{where}: {text.strip()!r} is not a number.") from None


def _list(text: str, where: str) -> list[str]:
    text = text.strip()
    if not (text.startswith("[") and text.endswith("]")):
        raise SpecError(f"{where}: expected a list in brackets like [1, 0.5], got {text!r}.")
    inner = text[1:-1].strip()
    return [part for part in split_top_level(inner)] if inner else []


def _one_unit(units: list[bool], where: str) -> bool:
    if len(set(units)) > 1:
        raise SpecError(
            f"{where}: write every length in one unit, all in steps or all with 'kimg'."
        )
    return bool(units and units[0])


def parse_schedule(text: str) -> Schedule:
    """``"linear(10, 1, 2000)"`` → ``linear(10, 1, 2000)``; see the module docstring."""
    if isinstance(text, Schedule):
        return text
    match = _CALL.match(text) if isinstance(text, str) else None
    if match is None:
        raise SpecError(f"{text!r} is not a schedule; write one like {EXAMPLES}.")
    name, arguments = match.group(1), split_top_level(match.group(2))
    where = f"schedule {text.strip()!r}"
    try:
        if name == "step":
            if len(arguments) != 2:
                raise SpecError(f"{where}: step takes ([values], [boundaries]), e.g. {EXAMPLES}.")
            values = [_float(v, where) for v in _list(arguments[0], where)]
            lengths = [_length(b, where) for b in _list(arguments[1], where)]
            images = _one_unit([unit for _, unit in lengths], where)
            return step(values, [b for b, _ in lengths], images=images)
        if len(arguments) != 3:
            raise SpecError(f"{where}: {name} takes (start, end, length), e.g. {EXAMPLES}.")
        start, end = _float(arguments[0], where), _float(arguments[1], where)
        length, images = _length(arguments[2], where)
        build = linear if name == "linear" else cosine
        return build(start, end, length, images=images)
    except InvalidOptionError as error:
        raise SpecError(f"{where}: {error}") from None
