"""``study status DIR``: how many runs are done, failed and pending, and each failure's line."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from gan_regularizers.study.results import read_results


def study_status(out: str | Path) -> dict[str, Any]:
    """Counts by status, per setup and in all, and the failed runs with their errors."""
    results = read_results(Path(out))
    runs = results["runs"]
    per_setup: dict[str, Counter] = {}
    for run in runs:
        per_setup.setdefault(run["setup"], Counter())[run["status"]] += 1
    failed = [
        f"{r['setup']} seed {r['seed']} steps {r['steps']}: {r.get('error', '')}"
        for r in runs
        if r["status"] == "failed"
    ]
    return {
        "study": results["study"],
        "total": dict(Counter(r["status"] for r in runs)),
        "per_setup": {k: dict(v) for k, v in per_setup.items()},
        "failed": failed,
        "runs": len(runs),
    }


def status_lines(status: dict[str, Any]) -> list[str]:
    """The status as the CLI prints it."""
    total = status["total"]
    lines = [
        f"{status['study']}: {status['runs']} runs: "
        + ", ".join(f"{total.get(s, 0)} {s}" for s in ("done", "failed", "pending"))
    ]
    for setup, counts in status["per_setup"].items():
        lines.append(f"  {setup}: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    lines += [f"  failed: {line}" for line in status["failed"]]
    return lines
