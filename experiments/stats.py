"""Shared helpers for the experiments: t-intervals over seeds and small I/O utilities."""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
from importlib import metadata
from pathlib import Path
from typing import Any

from scipy import stats as scipy_stats


def t_interval(values: list[float], confidence: float = 0.95) -> dict[str, Any]:
    """Mean and two-sided Student-t interval over independent seeds."""
    n = len(values)
    mean = statistics.fmean(values)
    if n < 2:
        return {"mean": mean, "low": None, "high": None, "n": n, "values": values}
    sd = statistics.stdev(values)
    half = float(scipy_stats.t.ppf(0.5 + confidence / 2, n - 1)) * sd / math.sqrt(n)
    return {
        "mean": mean,
        "low": mean - half,
        "high": mean + half,
        "sd": sd,
        "n": n,
        "values": values,
    }


def overlap(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two intervals overlap (then no difference is claimed)."""
    return not (a["high"] < b["low"] or b["high"] < a["low"])


def fmt(interval: dict[str, Any], digits: int = 3) -> str:
    if interval["low"] is None:
        return f"{interval['mean']:.{digits}f}"
    return f"{interval['mean']:.{digits}f} [{interval['low']:.{digits}f}, {interval['high']:.{digits}f}]"  # noqa: E501


def versions() -> dict[str, str]:
    out = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_count": str(os.cpu_count()),
    }
    for name in ("gan-regularizers", "torch", "numpy", "scipy"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def write_json(path: Path, payload: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + f".tmp{os.getpid()}")
    temporary.write_text(json.dumps(payload, indent=2) + "\n")
    os.replace(temporary, path)
