"""Evaluation under torch.distributed (2 gloo processes) equals one process."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import torch
from helpers import run_in_gloo_group
from torch import nn

from gan_regularizers.data.mnist5k import load_mnist5k
from gan_regularizers.metrics.evaluation import GeneratedImages, evaluate

# a Fréchet metric (moments), a kernel metric (gathered features) and both image metrics (states
# concatenated across ranks): every kind of state the one metric model syncs
METRICS = "fd:mnist-classifier,modes,lpips-div:pretrained=false,kid:pixels:subsets=3,subset_size=20"


def tiny_generator() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 32 * 32), nn.Tanh(), nn.Unflatten(1, (1, 32, 32)))


def evaluate_here() -> dict:
    real = load_mnist5k()[0][:120]
    fake = GeneratedImages(tiny_generator(), 45, 8, seed=1, batch_size=8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the random LPIPS trunk: a mechanics test
        return evaluate(fake, real, METRICS, cache=False, pairs=50).to_json()


def evaluate_on_rank(rank: int, out: str) -> None:
    Path(f"{out}.{rank}").write_text(json.dumps(evaluate_here()))


def test_two_ranks_give_the_single_process_metrics(tmp_path: Path) -> None:
    out = str(tmp_path / "metrics")
    run_in_gloo_group(evaluate_on_rank, 2, out)
    single = evaluate_here()
    for rank in range(2):
        payload = json.loads(Path(f"{out}.{rank}").read_text())
        fd, reference = (
            payload["metrics"]["fd:mnist-classifier"],
            single["metrics"]["fd:mnist-classifier"],
        )
        for key in ("value", "low", "high"):
            assert fd[key] == pytest.approx(reference[key], rel=1e-5)
        modes, expected = payload["metrics"]["modes"], single["metrics"]["modes"]
        assert modes["protocol"]["histogram"] == expected["protocol"]["histogram"]
        kl, expected = payload["metrics"]["modes-kl"], single["metrics"]["modes-kl"]
        assert kl["low"] == pytest.approx(expected["low"])
        for name in ("lpips-div", "kid"):
            for key in ("value", "low", "high"):
                got, want = payload["metrics"][name][key], single["metrics"][name][key]
                assert got == pytest.approx(want, rel=1e-5), (name, key)
        assert payload["protocol"]["world_size"] == 2 and payload["protocol"]["num_real"] == 120
