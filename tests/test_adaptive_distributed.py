"""The adaptive centroid under torch.distributed (gloo, 2 CPU processes): every rank steps λ on
the fraction penalised averaged over the ranks, so the ranks keep one λ."""

from __future__ import annotations

from pathlib import Path

import torch
from test_distributed_statistics import launch, per_rank
from torch import nn

from gan_regularizers import CentroidLoss


def _adapt(rank: int, out: str) -> None:
    loss = CentroidLoss(nn.Flatten(), weight=0.1, adaptive=True, target=0.6, rate_kimg=0.004,
                        progress=False)  # fmt: skip
    loss.fit_now(torch.tensor([[1.0, 0], [-1, 0], [0, 1], [0, -1]]).view(4, 1, 1, 2), None, 64)
    # rank 0: 2 of 4 samples beyond d_ref = 1 (0.5, below the target); rank 1: 4 of 4 (1.0)
    points = (
        [[0.5, 0], [0, 2], [-3, 0], [0.1, 0]] if rank == 0 else [[2, 0], [0, 2], [3, 0], [0, 3]]
    )
    loss(torch.tensor(points, dtype=torch.float32).view(4, 1, 1, 2).requires_grad_(True))
    loss.adapt(images=8)  # both ranks' images
    torch.save(float(loss.controller.weight), f"{out}.{rank}")


def test_ranks_step_lambda_on_the_mean_fraction(tmp_path: Path) -> None:
    out = tmp_path / "weight"
    launch(_adapt, 2, str(out))
    # mean fraction 0.75 > 0.6: λ += 8 / (0.004 · 1000) · 0.1 = 0.2 on both ranks (rank 0 alone,
    # at 0.5, would have lowered it)
    assert per_rank(out, 2) == [0.1 + 0.2, 0.1 + 0.2]
