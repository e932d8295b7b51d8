"""``DIR/results.json``: every run's outcome and every paired comparison, written atomically.

``runs``: one entry per (setup, seed, length): ``setup``, ``seed``, ``steps``, ``status``
(``done``, ``failed`` or ``pending``), ``metrics`` ``{name: value}``, ``wall_seconds``,
``train_seconds`` (this run's training), ``cumulative_train_seconds`` (along its chain),
``run_folder`` (relative to DIR), ``digest``, ``scoring`` (the scoring protocol's digest),
``error`` (a failed run's one line) and ``provenance``.
``comparisons``: one entry per comparison, metric and length (``compare``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gan_regularizers.errors import StudyError
from gan_regularizers.files.atomic import atomic_write
from gan_regularizers.study import statistics as st
from gan_regularizers.study.provenance import same_origin
from gan_regularizers.study.schema import Comparison, Study

RESULTS = "results.json"
FORMAT = 1
Runs = dict[tuple[str, int, int], dict[str, Any]]


def read_results(out: Path) -> dict[str, Any]:
    """``out/results.json`` (an error that says what to do when it is missing)."""
    path = Path(out) / RESULTS
    if not path.is_file():
        raise StudyError(
            f"{path} does not exist: run `gan-regularizers study run STUDY --out {out}` first."
        )
    try:
        return json.loads(path.read_text())
    except ValueError as error:
        raise StudyError(f"{path} is not valid JSON ({error}); restore it or rerun.") from error


def write_results(out: Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` to ``out/results.json`` atomically (a killed write leaves the old)."""
    text = (json.dumps(payload, indent=1, allow_nan=True) + "\n").encode()
    return atomic_write(Path(out) / RESULTS, lambda file: file.write(text))


def by_key(runs: list[dict[str, Any]]) -> Runs:
    return {(r["setup"], r["seed"], r["steps"]): r for r in runs}


def _metric_names(runs: Runs) -> list[str]:
    names: dict[str, None] = {}
    for run in runs.values():
        names |= dict.fromkeys(run.get("metrics") or {})
    return list(names)


def _pairs(runs: Runs, comparison: Comparison, steps: int, metric: str, seeds) -> tuple:
    """The per-seed differences of one comparison (seeds where both runs are done)."""
    diffs, mixed = [], None  # None: a machine not recorded (e.g. converted runs)
    for seed in seeds:
        first = runs.get((comparison.setup, seed, steps))
        second = runs.get((comparison.baseline, seed, steps))
        if not first or not second or {first.get("status"), second.get("status")} != {"done"}:
            continue
        if metric not in first.get("metrics", {}) or metric not in second.get("metrics", {}):
            continue
        diffs.append(first["metrics"][metric] - second["metrics"][metric])
        origins = first.get("provenance") or {}, second.get("provenance") or {}
        if origins[0].get("machine") and origins[1].get("machine"):
            mixed = bool(mixed) or not same_origin(*origins)
    return diffs, mixed


def compare(study: Study, runs: Runs) -> list[dict[str, Any]]:
    """Every comparison × metric × length with ≥ 2 paired seeds, Holm-adjusted per family."""
    metrics = _metric_names(runs)
    entries = []
    for comparison in study.comparisons:
        for steps in comparison.lengths or study.lengths:
            for metric in comparison.metrics or metrics:
                diffs, mixed = _pairs(runs, comparison, steps, metric, study.seeds)
                if len(diffs) < 2:
                    continue
                test = st.paired_test(diffs)
                entries.append(
                    {
                        "setup": comparison.setup,
                        "baseline": comparison.baseline,
                        "family": comparison.family,
                        "steps": steps,
                        "metric": metric,
                        "n": test.n,
                        "mean_difference": test.mean_difference,
                        "interval": [test.low, test.high],
                        "effect_size": test.effect_size,
                        "p": test.p,
                        "lower_is_better": st.lower_is_better(
                            metric, study.scoring.lower_is_better
                        ),
                        "differences": diffs,
                        "mixed_origin": mixed,
                    }
                )
    _holm(entries)
    return entries


def _holm(entries: list[dict[str, Any]]) -> None:
    families: dict[str, list[int]] = {}
    for index, entry in enumerate(entries):
        families.setdefault(entry["family"], []).append(index)
    for indices in families.values():
        adjusted = st.holm_adjusted({i: entries[i]["p"] for i in indices})
        for i in indices:
            entry = entries[i]
            entry["p_holm"] = adjusted[i]
            entry["family_size"] = len(indices)
            entry["verdict"] = st.verdict(
                entry["mean_difference"], adjusted[i], entry["lower_is_better"]
            )


def payload(study: Study, runs: list[dict[str, Any]], engine: dict[str, Any]) -> dict[str, Any]:
    """The whole results.json document."""
    return {
        "format": FORMAT,
        "study": study.name,
        "title": study.title,
        "description": study.description,
        "notes": study.notes,
        "seeds": list(study.seeds),
        "lengths": list(study.lengths),
        "setups": {k: v for k, v in study.setups.items()},
        "controls": study.controls,
        "scoring": study.scoring.protocol(),
        "engine": engine,
        "runs": runs,
        "comparisons": compare(study, by_key(runs)),
    }
