"""Fitting under torch.distributed (2 gloo processes on CPU) equals fitting in one process."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from feature_modules import random_images
from helpers import run_in_gloo_group
from torch import nn
from torch.utils.data import TensorDataset

from gan_regularizers import CentroidLoss


class ElementwiseFeatures(nn.Module):
    """Per-pixel features: exactly the same whatever the batch composition, so 1 rank and 2
    ranks see bit-identical features and any difference comes from the reduction."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.sin(3 * images.flatten(1))


def fit_on_rank(rank: int, options: dict, out: str) -> None:
    torch.manual_seed(0)
    images = random_images(11)  # 11 images: not divisible by 2 ranks
    data = TensorDataset(images, torch.arange(11) % 3)
    loss = CentroidLoss(ElementwiseFeatures(), progress=False, **options).fit(data, batch_size=4)
    torch.save({k: v.clone() for k, v in loss.state_dict().items()}, f"{out}.{rank}")


@pytest.mark.parametrize("options", [{}, {"radius": "quantile", "q": 0.7}, {"per_class": True}])
def test_two_ranks_equal_one_process(tmp_path: Path, options: dict) -> None:
    out = str(tmp_path / "state")
    # fork: the children share the parent's imports, so the test takes well under a second
    run_in_gloo_group(fit_on_rank, 2, options, out)
    single = CentroidLoss(ElementwiseFeatures(), progress=False, **options)
    single.fit(TensorDataset(random_images(11), torch.arange(11) % 3), batch_size=4)
    states = [torch.load(f"{out}.{rank}", weights_only=True) for rank in range(2)]
    for state in states:
        assert int(state["num_images"]) == 11
        torch.testing.assert_close(state["center"], single.center, rtol=1e-9, atol=1e-12)
        torch.testing.assert_close(state["d_ref"], single.d_ref, rtol=1e-9, atol=1e-12)
        torch.testing.assert_close(state["center_counts"], single.center_counts)
