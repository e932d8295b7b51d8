"""One run of a study, as a worker executes it: train (or copy the shorter run and resume),
score its EMA generator, write the outcome beside the run. Plain data in, plain data out, so the
same function runs in a local worker process or as a Ray task."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import time
import traceback
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gan_regularizers.files.atomic import atomic_write
from gan_regularizers.files.lock import hold_lock

MARKER = "study_run.json"


def read_marker(folder: Path) -> dict[str, Any] | None:
    """The outcome a finished run left in its folder (``None``: unfinished or not a run)."""
    try:
        return json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return None


def write_marker(folder: Path, outcome: dict[str, Any]) -> None:
    text = json.dumps(outcome, indent=1, sort_keys=True).encode()
    atomic_write(folder / MARKER, lambda file: file.write(text))


def attempt_lock(folder: Path) -> Path:
    """The lock a ``study run`` process holds beside a run's folder while it trains and scores
    the run: another ``study run`` on the same study folder then refuses that run instead of
    deleting the folder it is writing (it retries the run, or collects it, next time)."""
    return folder.parent / f".{folder.name}.lock"


def _held_by_us(folder: Path) -> contextlib.AbstractContextManager[Any]:
    return hold_lock(
        attempt_lock(folder),
        what=f"the study run {folder.name} ({folder.parent.name})",
        advice="Another `gan-regularizers study run` on this study folder is training it: let "
        "it finish, then `study run` again collects it without training it.",
    )


def _train(task: dict[str, Any]) -> float:
    """Train the run into its folder (fresh, or a copy of the source resumed); wall seconds."""
    from gan_regularizers.training.loop import train

    folder, config = Path(task["folder"]), task["config"]
    if folder.exists():  # an interrupted attempt: ours to redo
        shutil.rmtree(folder)
    start = time.perf_counter()
    if task["source"] is None:
        train({**config, "run_dir": str(folder)})
    else:
        shutil.copytree(task["source"], folder, ignore=shutil.ignore_patterns(MARKER))
        keys = ("steps", "sample_every", "threads", "quiet", "device")
        train(resume=folder, **{k: config[k] for k in keys if k in config})
    return time.perf_counter() - start


def score(folder: Path, scoring: dict[str, Any], data: str) -> tuple[dict[str, float], list[str]]:
    """Each metric of ``scoring`` for the run's EMA generator (or generator); the warnings."""
    from gan_regularizers import metrics
    from gan_regularizers.training.run_loading import load_run

    loaded = load_run(folder)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        evaluation = metrics.evaluate(
            loaded.generator,
            scoring["reference"] or data,
            list(scoring["metrics"]),
            num_samples=scoring["num_samples"],
            max_images=scoring["max_images"],
            seed=scoring["seed"],
            pairs=scoring["pairs"],
            latent_shape=(loaded.z_dim,),
            regularizer_spaces=loaded.regularizer_spaces,
        ).to_json()
    values = {name: float(result["value"]) for name, result in evaluation["metrics"].items()}
    return values, sorted({f"{w.category.__name__}: {w.message}" for w in caught})


@contextlib.contextmanager
def _threads(threads: int) -> Iterator[None]:
    """Score with the run's torch threads (0: torch's default), as training did."""
    import torch

    before = torch.get_num_threads()
    if threads > 0:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def execute(task: dict[str, Any]) -> dict[str, Any]:
    """Train and score one run; never raises: a failure is an outcome with its one-line error.

    ``task``: ``folder``, ``config`` (resolved train config), ``source`` (the shorter run's
    folder or ``None``), ``digest`` and ``scoring`` (``Scoring.protocol`` plus its digest). The
    run's ``attempt_lock`` is held throughout. A run whose folder already holds it trained (a
    re-score after ``[scoring]`` changed, or another process finished it meanwhile) is scored,
    not trained again.
    """
    folder, config = Path(task["folder"]), task["config"]
    threads = int(config.get("threads", 0))
    outcome: dict[str, Any] = {"digest": task["digest"], "scoring": task["scoring"]["digest"]}
    start = time.perf_counter()
    try:
        with _held_by_us(folder):
            outcome |= _train_and_score(task, folder, threads)
            _finish(outcome, start, config, threads)
            write_marker(folder, outcome)  # under the lock: another process sees it finished
    except Exception as error:  # recorded; the next `study run` retries it
        line = f"{type(error).__name__}: {error}".splitlines()[0][:500]
        outcome |= {"status": "failed", "error": line, "traceback": traceback.format_exc()}
        _finish(outcome, start, config, threads)
    return outcome


def _finish(outcome: dict[str, Any], start: float, config: dict[str, Any], threads: int) -> None:
    """Add the outcome's wall seconds and provenance."""
    from gan_regularizers.study.provenance import provenance

    outcome["wall_seconds"] = time.perf_counter() - start
    outcome["provenance"] = provenance(config.get("device", "cpu"), threads)


def _trained_here(folder: Path, run_digest: str) -> float | None:
    """The train seconds of this run when its folder holds it trained (its marker: done, same
    digest); ``None`` when it is still to be trained."""
    marker = read_marker(folder)
    if marker is None or marker.get("status") != "done" or marker.get("digest") != run_digest:
        return None
    return marker["train_seconds"]


def _train_and_score(task: dict[str, Any], folder: Path, threads: int) -> dict[str, Any]:
    """Train (unless the folder holds this run, trained) and score; the outcome's fields."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        log = io.StringIO()  # the run's log lines: the study shows its own progress
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            trained = _trained_here(folder, task["digest"])
            train_seconds = trained if trained is not None else _train(task)
    scored = time.perf_counter()
    with _threads(threads):
        data = task["config"].get("data", "mnist5k")
        values, scoring_warnings = score(folder, task["scoring"], data)
    said = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
    return {
        "status": "done",
        "metrics": values,
        "warnings": said + scoring_warnings,
        "train_seconds": train_seconds,
        "score_seconds": time.perf_counter() - scored,
    }
