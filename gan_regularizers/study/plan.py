"""Every run of a study: one per (setup, seed, length), keyed by the digest of its resolved config.

The lengths of one (setup, seed) form a chain: the shortest trains from scratch, each longer one
starts from a copy of the next shorter run's folder and resumes to its length (bit-exact on CPU,
so it is the run that would have been trained to that length when nothing in the recipe depends
on the total length). A run folder is ``DIR/runs/<setup>/seed<S>-steps<N>-<digest>``.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gan_regularizers.study.schema import Study

# fixed for every run of a study unless its setup says otherwise: one torch thread (numbers do
# not depend on --jobs or the engine), no TensorBoard files, no console output
STUDY_DEFAULTS = {"threads": 1, "tensorboard": False}


def digest(payload: Any, length: int = 12) -> str:
    """The first ``length`` hex digits of the SHA-256 of ``payload`` as canonical JSON."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


@dataclass(frozen=True)
class PlannedRun:
    """One (setup, seed, length) of a study and where its folder lives."""

    setup: str
    seed: int
    steps: int
    config: dict[str, Any]
    digest: str
    folder: Path
    source: PlannedRun | None = None  # the next shorter run of the chain, resumed from

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.setup, self.seed, self.steps)


def resolved_config(setup_config: dict[str, Any], seed: int, steps: int) -> dict[str, Any]:
    """The train config of one run: the setup's keys, the study's defaults, seed and steps."""
    config = {**STUDY_DEFAULTS, **setup_config, "seed": seed, "steps": steps, "quiet": True}
    config.setdefault("sample_every", steps)  # a sample grid at each length of the chain
    if config["sample_every"] > steps:
        config["sample_every"] = steps
    return config


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+@=-]", "_", name)


def plan_runs(study: Study, out: Path) -> list[PlannedRun]:
    """Every run of ``study`` under ``out``, each chain's lengths in increasing order."""
    runs = []
    for setup, setup_config in study.setups.items():
        for seed in study.seeds:
            source = None
            for steps in study.lengths:
                config = resolved_config(setup_config, seed, steps)
                key = digest({"config": config, "source": source.digest if source else None})
                folder = out / "runs" / _slug(setup) / f"seed{seed}-steps{steps}-{key}"
                source = PlannedRun(setup, seed, steps, config, key, folder, source)
                runs.append(source)
    return runs
