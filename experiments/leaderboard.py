"""The first cells of the mnist5k regularizer leaderboard: BCE, BCE + centroid, and the control.

    python experiments/leaderboard.py            # trains what is missing, then writes the page

Setups (the demo's recipe: DCGAN-32, 1,200 steps of batch 64, Adam 4e-4 for both players, G-EMA
0.999, one CPU thread per run, two runs at a time), seeds 0–4 each:

* ``bce``;
* ``bce+centroid``: the centroid in ``mnist-features`` (trained), scale-free form
  (``normalize=d_ref``, λ = 0.5, i.e. the paper's λ = 0.1 at mnist-features' d_ref ≈ 5);
* ``bce+centroid-random``: the control, the same centroid in a randomly initialised
  ``mnist-features`` network (``pretrained=false``) at the same scale-free λ.

Each run is scored exactly as the demo scores it (``commands/demo.py``'s ``_evaluate_all``):
1,000 EMA samples against 1,000 real digits of ``mnist5k_split(seed=1)``'s training part, in
``mnist-evaluator`` and raw pixels. The unit is the training seed: the page reports each setup's
mean with a t-interval over seeds and each setup's paired difference to ``bce`` (same seed,
same data order and latents) with a t-interval over the 5 paired seeds.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results" / "leaderboard"
RUNS = ROOT / "runs" / "leaderboard"
SEEDS = range(5)
STEPS = 1200
SCALE_FREE = "centroid:feature_space=mnist-features,normalize=d_ref,weight=0.5"
SETUPS = {
    "bce": [],
    "bce+centroid": [SCALE_FREE],
    "bce+centroid-random": [SCALE_FREE + ",pretrained=false"],
}
METRICS = ["fd:mnist-evaluator", "kid", "precision", "recall", "modes-accepted", "modes"]
LOWER_IS_BETTER = {"fd:mnist-evaluator", "kid"}


def _command(setup: str, seed: int) -> list[str]:
    command = [sys.executable, "-m", "gan_regularizers", "train", "--quiet", "--threads", "1",
               "--out", str(RUNS / f"{setup}_seed{seed}"), "--steps", str(STEPS),
               "--batch-size", "64", "--seed", str(seed), "--data", "mnist5k",
               "--set", "g_width=32", "--set", "d_width=32", "--set", "image_size=32",
               "--set", "g_lr=4e-4", "--set", "d_lr=4e-4", "--set", "ema_decay=0.999",
               "--set", "plots=false", "--set", "log_every=100",
               "--set", "sample_every=1200"]  # fmt: skip
    for spec in SETUPS[setup]:
        command += ["--regularizer", spec]
    return command


def train_missing() -> None:
    """Train every (setup, seed) without a result, two processes at a time."""
    todo = [(s, seed) for seed in SEEDS for s in SETUPS
            if not (RESULTS / f"{s}_seed{seed}.json").is_file()]  # fmt: skip
    running: list[tuple[str, int, float, subprocess.Popen[bytes]]] = []
    while todo or running:
        while todo and len(running) < 2:
            setup, seed = todo.pop(0)
            process = subprocess.Popen(_command(setup, seed), stdout=subprocess.DEVNULL)
            running.append((setup, seed, time.perf_counter(), process))
        time.sleep(1)
        for item in [r for r in running if r[3].poll() is not None]:
            running.remove(item)
            setup, seed, start, process = item
            if process.returncode != 0:
                raise SystemExit(f"{setup} seed {seed} failed (exit {process.returncode})")
            score(setup, seed, time.perf_counter() - start)


def score(setup: str, seed: int, seconds: float) -> None:
    """Score one run the demo's way and store the numbers."""
    from gan_regularizers.commands.demo import DemoSettings, _evaluate_all

    run = RUNS / f"{setup}_seed{seed}"
    per_run = _evaluate_all({setup: run}, DemoSettings(quiet=True, seed=0))[setup]
    values = {name: per_run["metrics"][name]["value"] for name in METRICS}
    payload = {"setup": setup, "seed": seed, "train_seconds": seconds, "metrics": values,
               "protocol": per_run["protocol"]}  # fmt: skip
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{setup}_seed{seed}.json").write_text(json.dumps(payload, indent=1))
    print(f"{setup} seed {seed}: {values}", flush=True)


if __name__ == "__main__":
    train_missing()
    from leaderboard_page import write_page

    write_page()
