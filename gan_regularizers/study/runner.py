"""``study run``: execute every run not yet done, on an engine, and keep results.json current.

Idempotent: a run whose folder holds a finished outcome with the same config digest and scoring
protocol is never trained or scored again; a run trained under another scoring protocol is only
scored. A failed run is recorded with its one-line error and retried by the next ``study run``;
the runs after it in its chain wait. results.json is rewritten atomically after every finished
run, so Ctrl-C leaves it consistent (the interrupted runs are redone next time).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from gan_regularizers.study.engines import make_engine
from gan_regularizers.study.execute import read_marker
from gan_regularizers.study.plan import PlannedRun, digest, plan_runs
from gan_regularizers.study.results import RESULTS, by_key, payload, write_results
from gan_regularizers.study.schema import Study, load_study


def _entry(run: PlannedRun, out: Path, outcome: dict[str, Any] | None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "setup": run.setup,
        "seed": run.seed,
        "steps": run.steps,
        "status": "pending",
        "metrics": {},
        "wall_seconds": None,
        "run_folder": str(run.folder.relative_to(out)),
        "digest": run.digest,
    }
    if outcome:
        keep = (
            "status",
            "metrics",
            "wall_seconds",
            "train_seconds",
            "score_seconds",
            "error",
            "scoring",
            "provenance",
            "warnings",
            "cumulative_train_seconds",
        )
        entry |= {k: outcome[k] for k in keep if k in outcome}
    return entry


class Runner:
    """The state of one ``study run``: the plan, each run's entry, the scoring digest."""

    def __init__(self, study: Study, out: Path, previous: dict[str, Any] | None) -> None:
        self.study, self.out = study, out
        self.plan = plan_runs(study, out)
        self.scoring = {**study.scoring.protocol(), "digest": digest(study.scoring.protocol())}
        old = by_key(previous["runs"]) if previous else {}
        self.entries: dict[tuple[str, int, int], dict[str, Any]] = {}
        for run in self.plan:  # chain order: a run's shorter run is recovered first
            self.entries[run.key] = self._recover(run, old.get(run.key))

    def _recover(self, run: PlannedRun, old: dict[str, Any] | None) -> dict[str, Any]:
        """The run's entry: results.json's (same digest), else its folder's outcome (results.json
        lost or written before the run finished), else a pending one."""
        same = old is not None and old.get("digest") == run.digest
        if same and old["status"] == "done":
            return old  # also stored results whose run folders were not kept
        marker = read_marker(run.folder)
        if not marker or marker.get("digest") != run.digest:
            return old if same and old["status"] == "failed" else _entry(run, self.out, None)
        shorter = self.entries.get(run.source.key, {}) if run.source else {}
        before = shorter.get("cumulative_train_seconds", 0.0 if run.source is None else None)
        if before is not None:
            marker["cumulative_train_seconds"] = before + marker["train_seconds"]
        return _entry(run, self.out, marker)

    def _done(self, run: PlannedRun) -> bool:
        entry = self.entries[run.key]
        return entry["status"] == "done" and entry.get("scoring") in (self.scoring["digest"], None)

    def todo(self) -> list[PlannedRun]:
        return [run for run in self.plan if not self._done(run)]

    def ready(self, todo: list[PlannedRun], running: set) -> list[PlannedRun]:
        """Runs whose chain predecessor is done (and its folder is here to resume from)."""
        return [
            r for r in todo if r.key not in running and (r.source is None or self._done(r.source))
        ]

    def task(self, run: PlannedRun) -> dict[str, Any]:
        """The plain-data task of ``run``. Its chain's shorter run is resumed when its folder is
        here; otherwise (stored numbers without folders) the run trains from scratch to its
        length, which bit-exact resume makes the same run."""
        source = run.source.folder if run.source and run.source.folder.is_dir() else None
        return {"folder": str(run.folder), "config": run.config, "digest": run.digest,
                "source": str(source) if source else None, "scoring": self.scoring}  # fmt: skip

    def record(self, run: PlannedRun, outcome: dict[str, Any], resumed: bool = True) -> None:
        """Keep ``run``'s outcome; its cumulative seconds add the chain's when it was resumed."""
        before: float | None = 0.0
        if run.source is not None and resumed:
            before = self.entries[run.source.key].get("cumulative_train_seconds")
        if outcome.get("train_seconds") is not None and before is not None:
            outcome["cumulative_train_seconds"] = before + outcome["train_seconds"]
        self.entries[run.key] = _entry(run, self.out, outcome)

    def write(self, engine: dict[str, Any]) -> Path:
        runs = [self.entries[run.key] for run in self.plan]
        return write_results(self.out, payload(self.study, runs, engine))


def _previous(out: Path) -> dict[str, Any] | None:
    from gan_regularizers.study.results import read_results

    return read_results(out) if (out / RESULTS).is_file() else None


def run_study(
    study: str | Path | Study,
    out: str | Path,
    *,
    jobs: int = 1,
    engine: str = "local",
    ray_address: str | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train and score every run of ``study`` that is not done; write ``out/results.json``.

    Returns:
        A summary: ``trained`` (runs executed now), ``failed``, ``pending`` (waiting for a failed
        run of their chain), ``seconds`` (total wall), ``run_seconds`` (sum of per-run wall) and
        ``startup_seconds`` (the engine's start-up).
    """
    from tqdm.auto import tqdm

    start = time.perf_counter()
    out = Path(out)
    study = study if isinstance(study, Study) else load_study(study)
    out.mkdir(parents=True, exist_ok=True)
    if study.source is not None and study.source != (out / "study.toml").resolve():
        shutil.copyfile(study.source, out / "study.toml")
    runner = Runner(study, out, _previous(out))
    todo = runner.todo()
    info = {"engine": engine, "jobs": jobs, "ray_address": ray_address}
    summary = {"trained": 0, "failed": 0, "run_seconds": 0.0, "startup_seconds": 0.0}
    if todo:
        executor = make_engine(engine, jobs, ray_address, study.num_cpus, study.num_gpus)
        summary["startup_seconds"] = getattr(executor, "startup_seconds", 0.0)
        bar = tqdm(total=len(todo), unit="run", disable=not progress, desc=study.name)
        try:
            _drive(runner, executor, todo, jobs, bar, summary, info)
        finally:
            bar.close()
            executor.close()
    runner.write(info)
    summary["pending"] = len(runner.todo()) - summary["failed"]
    summary["seconds"] = time.perf_counter() - start
    return summary


def _drive(
    runner: Runner,
    executor: Any,
    todo: list[PlannedRun],
    jobs: int,
    bar: Any,
    summary: dict[str, Any],
    info: dict[str, Any],
) -> None:
    """Keep ``jobs`` runs in flight; record each as it finishes; start its chain's next run."""
    running: dict[Any, tuple[PlannedRun, bool]] = {}
    failed: set = set()
    while True:
        waiting = [r for r in todo if r.key not in failed]
        for run in runner.ready(waiting, {r.key for r, _ in running.values()})[
            : max(0, jobs - len(running))
        ]:
            task = runner.task(run)
            running[executor.submit(task)] = (run, task["source"] is not None)
        if not running:
            return
        for handle, outcome in executor.wait(list(running)):
            run, resumed = running.pop(handle)
            _finish(runner, run, resumed, outcome, todo, failed, summary, bar, info)


def _finish(
    runner: Runner,
    run: PlannedRun,
    resumed: bool,
    outcome: dict[str, Any],
    todo: list[PlannedRun],
    failed: set,
    summary: dict[str, Any],
    bar: Any,
    info: dict[str, Any],
) -> None:
    """Record one finished (or failed) run and rewrite results.json."""
    todo.remove(run)
    runner.record(run, outcome, resumed)
    summary["run_seconds"] += outcome.get("wall_seconds") or 0.0
    if outcome["status"] == "failed":
        summary["failed"] += 1
        failed.add(run.key)
        bar.write(f"{run.setup} seed {run.seed} steps {run.steps}: {outcome['error']}")
    else:
        summary["trained"] += 1
    runner.write(info)
    bar.update(1)
