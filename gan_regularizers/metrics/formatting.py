"""How a result is printed so that it reads right: ``value [low, high]`` only when that is true.

* no interval: the value alone (a count), or the value with why there is none;
* a degenerate interval (``low == high``, e.g. KID whose every subset holds all samples): the
  value with "(no interval: …)", never ``[x, x]``;
* a value outside its own interval (possible for a biased estimator's bootstrap): marked ``†``,
  with a note (``interval_notes``);
* an interval clipped to the metric's range: marked ``‡``, with a note.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

OUTSIDE = "†"
CLIPPED = "‡"
OUTSIDE_NOTE = (
    f"{OUTSIDE} the estimate lies outside its own 95 % interval (a biased estimator: the "
    "bootstrap is centred elsewhere); read the interval as the sampling spread only"
)
CLIPPED_NOTE = f"{CLIPPED} interval clipped to the metric's range (see its protocol)"


def _fields(result: Any) -> tuple[float, float | None, float | None, dict[str, Any]]:
    if isinstance(result, Mapping):
        return result["value"], result.get("low"), result.get("high"), result.get("protocol", {})
    return result.value, result.low, result.high, result.protocol


def is_outside(result: Any) -> bool:
    """Whether the value lies outside its own interval."""
    value, low, high, _ = _fields(result)
    return low is not None and high is not None and not low <= value <= high


def format_result(result: Any, digits: int = 4) -> str:
    """``0.123 [0.101, 0.145]``, with the marks and words above where they apply."""
    value, low, high, protocol = _fields(result)
    text = f"{value:.{digits}g}"
    method = str(protocol.get("interval", ""))
    if low is None or high is None:
        if method.startswith("none (") and "count" not in method:
            return f"{text} (no interval: {method[6:-1]})"
        return text
    if low == high:
        return f"{text} (no interval: degenerate, every resample gives the same value)"
    marks = (OUTSIDE if is_outside(result) else "") + (CLIPPED if protocol.get("clipped") else "")
    return f"{text} [{low:.{digits}g}, {high:.{digits}g}]{marks}"


def interval_notes(results: Iterable[Any]) -> list[str]:
    """The notes that the marks in ``format_result`` refer to (each once)."""
    items = list(results)
    notes = []
    if any(is_outside(r) for r in items):
        notes.append(OUTSIDE_NOTE)
    if any(_fields(r)[3].get("clipped") for r in items):
        notes.append(CLIPPED_NOTE)
    return notes
