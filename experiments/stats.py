"""Shared helpers for the experiments: t-intervals over seeds (from the package's
:func:`gan_regularizers.metrics.seed_summary`) and small I/O utilities."""

from __future__ import annotations

import json
import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any


def t_interval(values: list[float], confidence: float = 0.95) -> dict[str, Any]:
    """Mean and two-sided Student-t interval over independent seeds (``metrics.seed_summary``)."""
    from gan_regularizers.metrics import seed_summary

    summary = seed_summary(values, confidence)
    out = {"mean": summary.mean, "low": summary.low, "high": summary.high, "n": summary.n,
           "values": summary.values}  # fmt: skip
    if summary.sd is not None:
        out["sd"] = summary.sd
    return out


def overlap(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two intervals overlap (then no difference is claimed)."""
    return not (a["high"] < b["low"] or b["high"] < a["low"])


def fmt(interval: dict[str, Any], digits: int = 3) -> str:
    if interval["low"] is None:
        return f"{interval['mean']:.{digits}f}"
    return f"{interval['mean']:.{digits}f} [{interval['low']:.{digits}f}, {interval['high']:.{digits}f}]"  # noqa: E501


def paired_p_value(diffs: list[float]) -> float:
    """Two-sided one-sample t-test of the paired differences against 0."""
    from scipy import stats

    if max(diffs) == min(diffs):
        return 1.0 if diffs[0] == 0 else 0.0
    return float(stats.ttest_1samp(diffs, 0.0).pvalue)


def holm(p_values: dict[Any, float], alpha: float = 0.05) -> set[Any]:
    """The keys whose hypotheses Holm's step-down procedure rejects at family-wise ``alpha``."""
    rejected: set[Any] = set()
    ordered = sorted(p_values, key=p_values.__getitem__)
    for rank, key in enumerate(ordered):
        if p_values[key] > alpha / (len(ordered) - rank):
            break
        rejected.add(key)
    return rejected


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
