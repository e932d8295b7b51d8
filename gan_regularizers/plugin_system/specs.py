"""``name:key=value,key=value`` specs for losses, regularizers and datasets.

``"centroid:weight=0.1,feature_space=vgg16"`` → ``("centroid", {"weight": 0.1,
"feature_space": "vgg16"})``. Values become ``bool`` (``true``/``false``, any case), ``int``,
``float`` (``2e-4``), a schedule (``linear(10,1,2000)``, ``cosine(…)``, ``step([…],[…])``: see
``gan_regularizers.schedules.grammar``), or stay ``str``, tried in that order. Options are
separated by the commas outside parentheses and brackets; a part without ``=`` continues the
previous option's value (``policy=color,translation,cutout``).
"""

from __future__ import annotations

from typing import Any

from gan_regularizers.errors import SpecError
from gan_regularizers.schedules.curves import Schedule
from gan_regularizers.schedules.grammar import looks_like_schedule, parse_schedule, split_top_level


def parse_value(text: str) -> bool | int | float | Schedule | str:
    """``"true"`` → True, ``"3"`` → 3, ``"0.1"`` → 0.1, ``"linear(1,0,100)"`` → a schedule,
    anything else → the string itself."""
    if looks_like_schedule(text):
        return parse_schedule(text)
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text.strip()


def parse_options(text: str, *, what: str) -> dict[str, Any]:
    """``"a=1,b=x"`` → ``{"a": 1, "b": "x"}``; ``what`` names the spec in errors.

    A part without ``=`` continues the previous option's value, so list-valued options read
    naturally: ``policy=color,translation,cutout`` → ``{"policy": "color,translation,cutout"}``.
    """
    raw: dict[str, str] = {}
    last: str | None = None
    for part in split_top_level(text):
        if not part.strip():
            continue
        key, equals, value = part.partition("=")
        key = key.strip()
        if not equals and last is not None:
            raw[last] += "," + part.strip()
            continue
        if not equals or not key:
            raise SpecError(
                f"{what}: option {part.strip()!r} is not key=value. Write options as "
                f"{what}:key=value,key=value (e.g. centroid:weight=0.1,feature_space=vgg16)."
            )
        if key in raw:
            raise SpecError(f"{what}: option {key!r} is given twice.")
        raw[key], last = value, key
    return {key: parse_value(value) for key, value in raw.items()}


def parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``"name:key=value,…"`` → ``(name, options)``."""
    if not isinstance(spec, str):
        raise SpecError(f"expected a spec string 'name:key=value,…', got {spec!r}.")
    name, _, rest = spec.partition(":")
    name = name.strip()
    if not name:
        raise SpecError(f"{spec!r} has no name before ':'; expected e.g. 'centroid:weight=0.1'.")
    return name, parse_options(rest, what=name)


def format_spec(name: str, options: dict[str, Any]) -> str:
    """The inverse of ``parse_spec`` (booleans written as ``true``/``false``)."""
    if not options:
        return name
    parts = [f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in options.items()]
    return f"{name}:{','.join(parts)}"
