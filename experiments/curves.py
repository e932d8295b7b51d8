"""Curves over training length: BCE, BCE + centroid and the random-feature control at 300, 600
and 1,200 steps, and (``--long``) BCE and BCE + centroid at 2,400; 5 seeds each.

    python experiments/curves.py [--long | --all]   # trains what is missing (after leaderboard.py)

``--all`` adds the control's 2,400-step point.

Same recipe, scoring and seeds as the leaderboard (``leaderboard.py``'s docstring). Each seed's
lengths are one chain of the same run, so they cost 2,400 steps, not 4,500: a fresh 300-step
run is copied and resumed to 600, and the leaderboard's 1,200-step run is copied and resumed to
2,400 (its 1,200-step numbers are the leaderboard's). Resume is bit-exact and nothing in the
recipe depends on the total length (constant learning rates, no λ warm-up), so a resumed run
is the run that would have been trained to that length. ``train_seconds`` is cumulative along
the chain (wall time of the ``train`` processes, two at a time on this 2-core machine), which
gives time-to-quality as well as steps-to-quality.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from leaderboard import RESULTS as LEADERBOARD_RESULTS
from leaderboard import RUNS as LEADERBOARD_RUNS
from leaderboard import SEEDS, _command, score_run

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results" / "curves"
RUNS = ROOT / "runs" / "curves"
SETUPS = ("bce", "bce+centroid", "bce+centroid-random")
LENGTHS = (300, 600, 1200, 2400)
# the 2,400-step points run only with --long (bce and bce+centroid) or --all (and the control)
LONG_SETUPS = ("bce", "bce+centroid")
_SCORING = threading.Lock()


def _result(setup: str, seed: int, steps: int) -> Path:
    return RESULTS / f"{setup}_seed{seed}_steps{steps}.json"


def _timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def _resume(source: Path, target: Path, steps: int) -> float:
    """Copy ``source`` to ``target`` and train the copy on to ``steps``; wall seconds."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target)
    command = [
        sys.executable,
        "-m",
        "gan_regularizers",
        "train",
        "--quiet",
        "--resume",
        str(target),
        "--steps",
        str(steps),
        "--set",
        f"sample_every={steps}",
    ]
    return _timed(command)


def _store(run: Path, setup: str, seed: int, steps: int, seconds: float) -> None:
    payload = {"setup": setup, "seed": seed, "steps": steps, "train_seconds": seconds}
    with _SCORING:
        score_run(run, _result(setup, seed, steps), payload)


def _seconds(setup: str, seed: int, steps: int) -> float:
    return float(json.loads(_result(setup, seed, steps).read_text())["train_seconds"])


def short_chain(setup: str, seed: int) -> None:
    """300 steps fresh, then the copy resumed to 600."""
    first = RUNS / f"{setup}_seed{seed}_steps300"
    if not _result(setup, seed, 300).is_file():
        if first.exists():
            shutil.rmtree(first)
        _store(first, setup, seed, 300, _timed(_command(setup, seed, 300, first)))
    if not _result(setup, seed, 600).is_file():
        seconds = _resume(first, RUNS / f"{setup}_seed{seed}_steps600", 600)
        total = _seconds(setup, seed, 300) + seconds
        _store(RUNS / f"{setup}_seed{seed}_steps600", setup, seed, 600, total)


def copy_leaderboard_point(setup: str, seed: int) -> dict[str, Any]:
    """The leaderboard's 1,200-step numbers of this run, stored as the curve's 1,200 point."""
    leaderboard = json.loads((LEADERBOARD_RESULTS / f"{setup}_seed{seed}.json").read_text())
    if not _result(setup, seed, 1200).is_file():
        _result(setup, seed, 1200).write_text(json.dumps({**leaderboard, "steps": 1200}))
    return leaderboard


def long_chain(setup: str, seed: int) -> None:
    """The leaderboard's 1,200-step run (its numbers), then its copy resumed to 2,400."""
    leaderboard = copy_leaderboard_point(setup, seed)
    if not _result(setup, seed, 2400).is_file():
        target = RUNS / f"{setup}_seed{seed}_steps2400"
        seconds = _resume(LEADERBOARD_RUNS / f"{setup}_seed{seed}", target, 2400)
        total = leaderboard["train_seconds"] + seconds
        _store(target, setup, seed, 2400, total)


def main() -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    jobs = [(short_chain, s, seed) for s in SETUPS for seed in SEEDS]
    long_setups = SETUPS if "--all" in sys.argv[1:] else LONG_SETUPS
    if {"--long", "--all"} & set(sys.argv[1:]):
        jobs += [(long_chain, s, seed) for s in long_setups for seed in SEEDS]
    else:  # the 1,200-step points are the leaderboard's
        jobs += [(copy_leaderboard_point, s, seed) for s in SETUPS for seed in SEEDS]
    with ThreadPoolExecutor(max_workers=2) as pool:
        for future in [pool.submit(job, setup, seed) for job, setup, seed in jobs]:
            future.result()


if __name__ == "__main__":
    main()
