"""The mnist5k regularizer leaderboard: 15 setups × 5 training seeds.

    python experiments/leaderboard.py [SETUP ...]   # trains what is missing, writes the page

Recipe (the demo's): DCGAN-32, 1,200 steps of batch 64, Adam 4e-4 for both players, G-EMA
0.999, one CPU thread per run, two runs at a time; seeds 0–4 for every setup. Setups
(``SETUPS`` below):

* losses alone: ``bce``, ``hinge``;
* discriminator side: ``r1`` (γ = 0.01, lazy every 16: StyleGAN2-ADA's CIFAR-10 γ at the same
  32 px and batch 64), ``lecam`` (λ = 0.3, decay 0.99), ``diffaugment`` (color, translation,
  cutout: the paper's policy for limited data);
* the centroid in ``mnist-features``, scale-free form (``normalize=d_ref``, λ = 0.5, which is
  the paper's λ = 0.1 at mnist-features' d_ref ≈ 5) with ``bce``, ``hinge`` and
  ``diffaugment``; the paper's raw form (``normalize=none``, λ = 0.1) with ``bce`` and
  ``hinge``; 10 k-means centres; one centre per class; λ = 2 and 8 (the sweep, with ``bce``
  as λ = 0 and ``bce+centroid`` as λ = 0.5);
* the control ``bce+centroid-random``: the same centroid in a randomly initialised
  ``mnist-features`` network (``pretrained=false``) at the same scale-free λ.

Each run is scored exactly as the demo scores it (``commands/demo.py``'s ``_evaluate_all``):
1,000 EMA samples against 1,000 real digits of ``mnist5k_split(seed=1)``'s training part, in
``mnist-evaluator`` and raw pixels. The unit is the training seed; ``leaderboard_page.py``
turns the stored JSON into docs/leaderboard.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results" / "leaderboard"
RUNS = ROOT / "runs" / "leaderboard"
SEEDS = range(5)
STEPS = 1200
SCALE_FREE = "centroid:feature_space=mnist-features,normalize=d_ref,weight=0.5"
PAPER_FORM = "centroid:feature_space=mnist-features,weight=0.1"
DIFFAUGMENT = "diffaugment:policy=color,translation,cutout"
R1 = "r1:gamma=0.01,every=16"


def _setup(loss: str = "bce", augment: str | None = None, *regularizers: str) -> dict[str, Any]:
    return {"loss": loss, "augment": augment, "regularizers": list(regularizers)}


# in the order they are trained, so that an interrupted run leaves whole cells
SETUPS: dict[str, dict[str, Any]] = {
    "bce": _setup(),
    "bce+centroid": _setup("bce", None, SCALE_FREE),
    "bce+centroid-random": _setup("bce", None, SCALE_FREE + ",pretrained=false"),
    "hinge": _setup("hinge"),
    "hinge+centroid": _setup("hinge", None, SCALE_FREE),
    "diffaugment": _setup("bce", DIFFAUGMENT),
    "r1": _setup("bce", None, R1),
    "lecam": _setup("bce", None, "lecam"),
    "diffaugment+centroid": _setup("bce", DIFFAUGMENT, SCALE_FREE),
    "bce+centroid-lambda2": _setup("bce", None, SCALE_FREE.replace("weight=0.5", "weight=2")),
    "bce+centroid-lambda8": _setup("bce", None, SCALE_FREE.replace("weight=0.5", "weight=8")),
    "bce+centroid-paper": _setup("bce", None, PAPER_FORM),
    "bce+centroid-k10": _setup("bce", None, SCALE_FREE + ",centers=10"),
    "bce+centroid-per-class": _setup("bce", None, SCALE_FREE + ",per_class=true"),
    "hinge+centroid-paper": _setup("hinge", None, PAPER_FORM),
}
METRICS = ["fd:mnist-evaluator", "kid", "precision", "recall", "modes-accepted", "modes"]
LOWER_IS_BETTER = {"fd:mnist-evaluator", "kid"}


def _command(setup: str, seed: int, steps: int = STEPS, out: Path | None = None) -> list[str]:
    """The ``train`` command of one cell (``out`` defaults to the leaderboard's run folder)."""
    out = out or RUNS / f"{setup}_seed{seed}"
    command = [sys.executable, "-m", "gan_regularizers", "train", "--quiet", "--threads", "1",
               "--out", str(out), "--steps", str(steps),
               "--batch-size", "64", "--seed", str(seed), "--data", "mnist5k",
               "--set", "architecture=dcgan:g_width=32,d_width=32", "--set", "image_size=32",
               "--set", "g_lr=4e-4", "--set", "d_lr=4e-4", "--set", "ema_decay=0.999",
               "--set", "plots=false", "--set", "log_every=100",
               "--set", f"sample_every={steps}"]  # fmt: skip
    setup_spec = SETUPS[setup]
    command += ["--loss", setup_spec["loss"]]
    if setup_spec["augment"]:
        command += ["--augment", setup_spec["augment"]]
    for spec in setup_spec["regularizers"]:
        command += ["--regularizer", spec]
    return command


def train_missing(setups: list[str]) -> None:
    """Train every (setup, seed) of ``setups`` without a result, two processes at a time."""
    todo = [(s, seed) for s in setups for seed in SEEDS
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
    payload = {"setup": setup, "seed": seed, "train_seconds": seconds}
    score_run(RUNS / f"{setup}_seed{seed}", RESULTS / f"{setup}_seed{seed}.json", payload)


def score_run(run: Path, result: Path, payload: dict[str, Any]) -> None:
    """Score ``run`` the demo's way; write ``payload`` plus the metrics to ``result``."""
    from gan_regularizers.commands.demo import DemoSettings, _evaluate_all

    per_run = _evaluate_all({"run": run}, DemoSettings(quiet=True, seed=0))["run"]
    values = {name: per_run["metrics"][name]["value"] for name in METRICS}
    payload = {**payload, "metrics": values, "protocol": per_run["protocol"]}
    result.parent.mkdir(parents=True, exist_ok=True)
    temporary = result.with_suffix(".tmp")
    temporary.write_text(json.dumps(payload, indent=1))
    temporary.replace(result)
    print(f"{result.stem}: {values}", flush=True)


if __name__ == "__main__":
    chosen = sys.argv[1:] or list(SETUPS)
    unknown = sorted(set(chosen) - set(SETUPS))
    if unknown:
        raise SystemExit(f"unknown setups {unknown}; choose from {list(SETUPS)}")
    train_missing(chosen)
    from leaderboard_page import write_page

    write_page()
