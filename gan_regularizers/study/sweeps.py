"""Sweeps: setups that differ only in one numeric option of one regularizer (λ, k, …)."""

from __future__ import annotations

import json
from typing import Any

from gan_regularizers.plugin_system.specs import parse_spec


def _numeric(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _groups(setups: dict[str, dict[str, Any]]) -> dict[str, list]:
    groups: dict[str, list] = {}
    for setup, config in setups.items():
        specs = [s for s in config.get("regularizers", []) if isinstance(s, str)]
        rest = {k: v for k, v in config.items() if k != "regularizers"}
        for index, spec in enumerate(specs):
            name, options = parse_spec(spec)
            others = specs[:index] + specs[index + 1 :]
            for option, value in options.items():
                if _numeric(value):
                    fixed = {k: v for k, v in options.items() if k != option}
                    key = json.dumps(
                        [rest, others, name, fixed, option], sort_keys=True, default=str
                    )
                    groups.setdefault(key, []).append((setup, float(value), rest, others))
    return groups


def find_sweeps(setups: dict[str, dict[str, Any]]) -> list[tuple[str, list[tuple[str, float]]]]:
    """``(option, [(setup, value), …])`` for each sweep of ≥ 3 points, sorted by value.

    A ``weight`` sweep also takes, as its 0, the setup with that regularizer left out.
    """
    sweeps = []
    for key, members in _groups(setups).items():
        option = json.loads(key)[-1]
        points = [(setup, value) for setup, value, _, _ in members]
        if option == "weight":
            _, _, rest, others = members[0]
            for setup, config in setups.items():
                unregularized = {k: v for k, v in config.items() if k != "regularizers"}
                if unregularized == rest and config.get("regularizers", []) == others:
                    points.append((setup, 0.0))
        if len({value for _, value in points}) >= 3:
            sweeps.append((option, sorted(points, key=lambda point: point[1])))
    return sweeps
