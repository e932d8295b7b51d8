"""``study verify DIR [--sample K]``: re-train K stored runs and compare with what is stored.

Each chosen run is trained again exactly as the study trained it (from scratch, or from a copy
of its stored shorter run, resumed) into a temporary folder, scored with the study's protocol,
and compared metric by metric: bit-identical, or the largest absolute difference. On the machine
(and code) that wrote the results the numbers are bit-identical on CPU; on another machine they
agree within seed noise, not bitwise (float reductions differ between CPUs and libraries).
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path
from typing import Any

from gan_regularizers.study.execute import execute
from gan_regularizers.study.plan import digest, plan_runs
from gan_regularizers.study.provenance import provenance, same_origin
from gan_regularizers.study.results import read_results
from gan_regularizers.study.schema import load_study


def _difference(stored: dict[str, float], again: dict[str, float]) -> dict[str, Any]:
    differences = {m: abs(again[m] - stored[m]) for m in stored if m in again}
    return {
        "bit_identical": all(again.get(m) == v for m, v in stored.items()),
        "max_abs_difference": max(differences.values(), default=0.0),
        "differences": differences,
    }


def verify_runs(out: str | Path, sample: int = 1, seed: int = 0) -> list[dict[str, Any]]:
    """Re-train ``sample`` randomly chosen finished runs (seeded) and compare their metrics."""
    out = Path(out)
    study = load_study(out / "study.toml")
    stored = {(r["setup"], r["seed"], r["steps"]): r for r in read_results(out)["runs"]}
    plan = [run for run in plan_runs(study, out) if stored.get(run.key, {}).get("status") == "done"]
    chosen = random.Random(seed).sample(plan, min(sample, len(plan)))
    scoring = {**study.scoring.protocol(), "digest": digest(study.scoring.protocol())}
    here = provenance()
    reports = []
    for run in chosen:
        entry = stored[run.key]
        with tempfile.TemporaryDirectory() as folder:
            source = run.source.folder if run.source and run.source.folder.is_dir() else None
            config = run.config if source else {**run.config, "sample_every": run.steps}
            outcome = execute(
                {
                    "folder": str(Path(folder) / "run"),
                    "config": config,
                    "digest": run.digest,
                    "source": str(source) if source else None,
                    "scoring": scoring,
                }
            )
        report = {
            "setup": run.setup,
            "seed": run.seed,
            "steps": run.steps,
            "status": outcome["status"],
            "same_machine_and_code": same_origin(entry.get("provenance"), here),
        }
        if outcome["status"] == "done":
            report |= _difference(entry["metrics"], outcome["metrics"])
        else:
            report["error"] = outcome["error"]
        reports.append(report)
    return reports


def verify_lines(reports: list[dict[str, Any]]) -> list[str]:
    """One line per verified run, as the CLI prints them."""
    lines = []
    for r in reports:
        name = f"{r['setup']} seed {r['seed']} steps {r['steps']}"
        where = (
            "same machine and code"
            if r["same_machine_and_code"]
            else "another machine or code: expect agreement within seed noise, not bitwise"
        )
        if r["status"] != "done":
            lines.append(f"{name}: failed again: {r['error']}")
        elif r["bit_identical"]:
            lines.append(f"{name}: bit-identical ({where})")
        else:
            lines.append(
                f"{name}: differs, largest |difference| {r['max_abs_difference']:.4g} ({where})"
            )
    return lines
