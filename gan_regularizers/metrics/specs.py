"""Metric specs: ``name``, ``name:key=value,…`` and ``name:ARGUMENT:key=value,…``.

``fd:vgg16:weights=/w/vgg16.pth`` → metric ``fd`` with ``space="vgg16", weights="/w/vgg16.pth"``:
a leading part without ``=`` is the factory's first parameter (the feature space for ``fd``).
A comma-separated list of specs (``--metrics fd:vgg16:weights=P,kid:subsets=10,lpips-div``) is
split at each comma that starts a new metric: a part with no ``=``, or with a ``:`` before its
first ``=``. The other parts are options of the metric before them.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

from gan_regularizers.errors import MetricError
from gan_regularizers.plugin_system.specs import parse_options


def split_specs(text: str | Sequence[Any]) -> list[Any]:
    """``"fd:vgg16:weights=P,k=1,lpips-div"`` → ``["fd:vgg16:weights=P,k=1", "lpips-div"]``."""
    if not isinstance(text, str):
        return [item for item in text if not (isinstance(item, str) and not item.strip())]
    specs: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        equals, colon = part.find("="), part.find(":")
        starts_new = equals < 0 or (0 <= colon < equals)
        if starts_new or not specs:
            specs.append(part)
        else:
            specs[-1] = f"{specs[-1]},{part}"
    return specs


def _first_parameter(factory: Any) -> str | None:
    try:
        parameters = list(inspect.signature(factory).parameters.values())
    except (TypeError, ValueError):
        return None
    usable = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return next((p.name for p in parameters if p.kind in usable), None)


def parse_metric_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``"fd:vgg16:weights=P"`` → ``("fd", {"space": "vgg16", "weights": "P"})``."""
    from gan_regularizers.plugin_system.registry import collect

    name, _, rest = spec.strip().partition(":")
    if not name:
        raise MetricError(f"{spec!r} has no metric name before ':'; e.g. 'kid:subsets=10'.")
    head, _, tail = rest.partition(":")
    if not head or "=" in head:
        return name, parse_options(rest, what=name)
    registrations = collect("metric")
    if name not in registrations:
        return name, {}  # looked up next: an unknown name is reported with suggestions
    parameter = _first_parameter(registrations[name].factory)
    if parameter is None:
        raise MetricError(
            f"{spec!r}: metric {name!r} takes no positional argument {head!r}; write options "
            f"as {name}:key=value."
        )
    options = parse_options(tail, what=f"{name}:{head}")
    return name, {parameter: head, **options}
