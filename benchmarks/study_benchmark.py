"""Study runner benchmark: the runner's overhead, `study report`'s time, a local Ray's start-up.

1. overhead = (total wall of `study run` − Σ per-run wall) / Σ per-run wall, on the local
   engine with ``--jobs 1`` (runs in the command's process; target ≤ 0.03): a small study of
   ``--runs`` mnist5k runs of ``--steps`` steps (batch 16, 16-wide DCGAN, 128 samples scored).
2. `study report` over the leaderboard's stored results (experiments/leaderboard, curves,
   mixtures: 245 runs, 128 comparisons), with and without figures (target < 10 s).
3. a local Ray's start-up (``ray.init`` with 2 CPUs) and the first task's round trip
   (needs the [ray] extra).

Usage: python benchmarks/study_benchmark.py [--steps 60] [--runs 4] [--out FILE]
Prints JSON (and writes --out FILE). Run it alone: the timings are wall-clock.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
STUDY = """
name = "overhead"
seeds = {seeds}
lengths = [{steps}]

[base]
data = "mnist5k"
batch_size = 16
g_width = 16
d_width = 16
plots = false
fit_cache = false

[setups.bce]
loss = "bce"

[scoring]
metrics = ["fd:mnist-evaluator"]
num_samples = 128
max_images = 128
"""


def runner_overhead(steps: int, runs: int) -> dict[str, Any]:
    from gan_regularizers import study

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "study.toml"
        path.write_text(STUDY.format(seeds=list(range(runs)), steps=steps))
        start = time.perf_counter()
        summary = study.run(path, Path(folder) / "out", progress=False)
        total = time.perf_counter() - start
    return {"runs": summary["trained"], "total_s": total, "sum_of_runs_s": summary["run_seconds"],
            "overhead": (total - summary["run_seconds"]) / summary["run_seconds"]}  # fmt: skip


def report_time() -> dict[str, Any]:
    from gan_regularizers import study

    dirs = [ROOT / "experiments" / name for name in ("leaderboard", "curves", "mixtures")]
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        for images in (False, True):
            start, cpu = time.perf_counter(), time.process_time()
            study.report(dirs, Path(folder) / "page.md", title="Leaderboard", images=images)
            key = "with_figures" if images else "text_only"
            out[f"{key}_s"] = time.perf_counter() - start
            out[f"{key}_cpu_s"] = time.process_time() - cpu  # this process's CPU time
    return out


def ray_startup() -> dict[str, Any]:
    try:
        import ray
    except ImportError:
        return {"skipped": "ray is not installed"}
    start = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    started = time.perf_counter()
    ray.get(ray.remote(lambda: 1).remote())
    first = time.perf_counter()
    ray.shutdown()
    return {"init_s": started - start, "first_task_s": first - started, "ray": ray.__version__}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--parts", nargs="+", default=["overhead", "report", "ray"])
    args = parser.parse_args()
    parts = {"overhead": lambda: runner_overhead(args.steps, args.runs), "report": report_time,
             "ray": ray_startup}  # fmt: skip
    result: dict[str, Any] = {"python": platform.python_version(), "load": os.getloadavg()[0]}
    result |= {name: parts[name]() for name in args.parts}
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    sys.exit(main())
