"""Evaluation under torch.distributed (2 gloo processes) equals one process."""

from __future__ import annotations

import json
import os
import socket
import warnings
from datetime import timedelta
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
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


def evaluate_on_rank(rank: int, port: int, out: str) -> None:
    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2, timeout=timedelta(seconds=60))
    try:
        Path(f"{out}.{rank}").write_text(json.dumps(evaluate_here()))
    finally:
        dist.destroy_process_group()


def test_two_ranks_give_the_single_process_metrics(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    out = str(tmp_path / "metrics")
    mp.start_processes(evaluate_on_rank, args=(port, out), nprocs=2, start_method="fork")
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
