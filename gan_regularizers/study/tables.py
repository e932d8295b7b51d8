"""The markdown tables of a study report: cells over seeds, comparisons, time to quality, τ."""

from __future__ import annotations

import itertools
import math
from typing import Any

from gan_regularizers.study import statistics as st

Runs = dict[tuple[str, int, int], dict[str, Any]]
CLIPPED = "‡"
SURVIVES = "✱"
UNCORRECTED = "†"


def digits(metric: str) -> int:
    """Decimals shown for ``metric`` (distances 2, KID 4, mode counts 1, seconds 0, else 3)."""
    base = metric.split(":")[0]
    if metric.endswith("seconds"):
        return 0
    if base.startswith(("fd", "fid")):
        return 2
    if base.startswith("kid"):
        return 4
    return {"modes": 1, "modes-covered": 2}.get(base, 3)


def cell(values: list[float], metric: str, bounds: tuple[float, float] | None = None) -> str:
    """``mean [low, high]`` over seeds; with ``bounds``, the interval cut to that range (‡)."""
    mean, low, high = st.t_interval(values)
    d = digits(metric)
    if low is None:
        return f"{mean:.{d}f} (n={len(values)})"
    mark = ""
    if bounds is not None:
        cut = st.clip(low, high, *bounds)
        moved = max(abs(cut[0] - low), abs(cut[1] - high))
        mark = CLIPPED if moved > 1e-9 else ""
        low, high = cut
    return f"{mean:.{d}f} [{low:.{d}f}, {high:.{d}f}]{mark}"


def done(runs: Runs, setup: str, steps: int) -> dict[int, dict[str, Any]]:
    """``{seed: run}`` of the finished runs of ``setup`` at ``steps``."""
    return {
        seed: r
        for (s, seed, n), r in runs.items()
        if s == setup and n == steps and r["status"] == "done"
    }


def _seconds(run: dict[str, Any]) -> float | None:
    value = run.get("cumulative_train_seconds", run.get("train_seconds"))
    return None if value is None else float(value)


def setup_table(
    runs: Runs, setups: list[str], metrics: list[str], steps_list: list[int], bounded: set[str]
) -> list[str]:
    """One row per setup (and length when there are several): cells over seeds."""
    several = len(steps_list) > 1
    head = "| setup | " + ("steps | " if several else "") + "seeds | " + " | ".join(metrics)
    lines = [head + " | train s |", "|---|" + "---|" * (len(metrics) + 2 + several)]
    for setup in setups:
        for steps in steps_list:
            seeds = done(runs, setup, steps)
            prefix = f"| {setup} | " + (f"{steps} | " if several else "")
            if not seeds:
                lines.append(prefix + "0 |" + " – |" * (len(metrics) + 1))
                continue
            cells = [
                cell(
                    [r["metrics"][m] for r in seeds.values() if m in r["metrics"]],
                    m,
                    (0.0, 1.0) if m in bounded else None,
                )
                for m in metrics
            ]
            seconds = [s for s in map(_seconds, seeds.values()) if s is not None]
            cells.append(cell(seconds, "train_seconds") if seconds else "–")
            lines.append(prefix + f"{len(seeds)} | " + " | ".join(cells) + " |")
    return lines


def _diff_cell(entry: dict[str, Any], bounded: bool) -> str:
    text = cell(entry["differences"], entry["metric"], (-1.0, 1.0) if bounded else None)
    if entry["verdict"] != "no detectable difference":
        return text + " " + SURVIVES
    low, high = entry["interval"]
    return text + (" " + UNCORRECTED if low is not None and (low > 0 or high < 0) else "")


def wide_comparisons(entries: list[dict[str, Any]], bounded: set[str]) -> list[str]:
    """One row per comparison and length, one column per metric: mean difference [t]."""
    metrics = list(dict.fromkeys(e["metric"] for e in entries))
    several = len({e["steps"] for e in entries}) > 1
    rows: dict[tuple, dict[str, dict]] = {}
    for e in entries:
        rows.setdefault((e["setup"], e["baseline"], e["steps"]), {})[e["metric"]] = e
    lines = ["| comparison | " + " | ".join(metrics) + " |", "|---|" + "---|" * len(metrics)]
    for (setup, baseline, steps), by_metric in rows.items():
        label = f"{setup} − {baseline}" + (f" @ {steps}" if several else "")
        cells = [_diff_cell(by_metric[m], m in bounded) if m in by_metric else "–" for m in metrics]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def _p(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.2g}" if value >= 1e-3 else f"{value:.1e}"


def long_comparisons(entries: list[dict[str, Any]]) -> list[str]:
    """Every test of a family: n, mean difference, d_z, p, Holm's p, verdict."""
    lines = [
        "| comparison | steps | metric | n | mean difference | d_z | p | p (Holm) | verdict |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for e in entries:
        d = digits(e["metric"])
        effect = e["effect_size"]
        effect_text = "–" if effect is None or math.isinf(effect) else f"{effect:+.2f}"
        mixed = " (runs from different code or machines)" if e.get("mixed_origin") else ""
        lines.append(
            f"| {e['setup']} − {e['baseline']} | {e['steps']} | {e['metric']} | {e['n']} | "
            f"{e['mean_difference']:+.{d}f} | {effect_text} | {_p(e['p'])} | "
            f"{_p(e['p_holm'])} | {e['verdict']}{mixed} |"
        )
    return lines


def first_reached(
    runs: Runs,
    setup: str,
    seed: int,
    metric: str,
    threshold: float,
    lengths: list[int],
    lower: bool,
) -> tuple[int, float | None] | None:
    """The shortest length at which ``seed`` reaches ``threshold`` (and its seconds)."""
    for steps in lengths:
        run = runs.get((setup, seed, steps))
        if run and run["status"] == "done" and metric in run["metrics"]:
            value = run["metrics"][metric]
            if (value <= threshold) if lower else (value >= threshold):
                return steps, _seconds(run)
    return None


def time_to_quality(
    runs: Runs,
    setups: list[str],
    seeds: list[int],
    lengths: list[int],
    metric: str,
    thresholds: list[float],
    lower: bool,
) -> list[str]:
    """Steps and cumulative training seconds per seed to reach each threshold."""
    sign = "≤" if lower else "≥"
    lines = [
        f"| setup | {metric} {sign} | steps per seed | seconds per seed |",
        "|---|---|---|---|",
    ]
    for threshold in thresholds:
        for setup in setups:
            reached = [
                first_reached(runs, setup, s, metric, threshold, lengths, lower) for s in seeds
            ]
            steps = ", ".join(str(r[0]) if r else "–" for r in reached)
            seconds = ", ".join(f"{r[1]:.0f}" if r and r[1] is not None else "–" for r in reached)
            lines.append(f"| {setup} | {threshold:.{digits(metric)}f} | {steps} | {seconds} |")
    return lines


def rank_agreement(runs: Runs, setups: list[str], metrics: list[str], steps: int) -> list[str]:
    """Kendall's τ between the orderings of the setups by the same metric in different spaces."""
    kinds: dict[str, list[str]] = {}
    for metric in metrics:
        if ":" in metric:
            kinds.setdefault(metric.split(":")[0], []).append(metric)
    lines = []
    for kind, names in kinds.items():
        for first, second in itertools.combinations(names, 2):
            means = []
            for setup in setups:
                seeds = done(runs, setup, steps)
                if seeds and all(
                    first in r["metrics"] and second in r["metrics"] for r in seeds.values()
                ):
                    means.append(
                        [
                            st.t_interval([r["metrics"][m] for r in seeds.values()])[0]
                            for m in (first, second)
                        ]
                    )
            if len(means) >= 2:
                tau = st.kendall_tau([m[0] for m in means], [m[1] for m in means])
                flag = " (the spaces disagree on the order)" if tau < 0.5 else ""
                lines.append(f"| {kind} | {first} | {second} | {len(means)} | {tau:+.2f}{flag} |")
    if not lines:
        return []
    return ["| metric | space A | space B | setups | Kendall τ |", "|---|---|---|---|---|", *lines]
