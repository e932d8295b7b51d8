"""Small deterministic feature networks and data shared by the tests."""

from __future__ import annotations

import torch
from torch import nn


class LinearFeatures(nn.Module):
    """A deterministic feature network: flatten, then a fixed linear map; counts its calls."""

    def __init__(self, in_features: int = 12, out_features: int = 5, seed: int = 0) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.linear = nn.Linear(in_features, out_features)
        with torch.no_grad():
            self.linear.weight.copy_(torch.randn(out_features, in_features, generator=generator))
            self.linear.bias.copy_(torch.randn(out_features, generator=generator))
        self.calls = 0

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.linear(images.flatten(1))


class PointFeatures(nn.Module):
    """Images 1×1×2 are their own 2-D features: easy hand computations."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return images.flatten(1) * 1.0


def random_images(n: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, 2, 2, generator=generator) * 2 - 1


def points(*xy: tuple[float, float]) -> torch.Tensor:
    return torch.tensor(xy, dtype=torch.float32).view(-1, 1, 1, 2)
