"""Total variation of generated images: weight · mean(|x[..., i+1, :] - x[..., i, :]|)
+ weight · mean(|x[..., :, j+1] - x[..., :, j]|)."""

import torch
from torch import nn

from gan_regularizers import hookimpl


class TotalVariation(nn.Module):
    def __init__(self, weight: float = 0.01) -> None:
        super().__init__()
        self.weight = weight

    def forward(self, fake_images: torch.Tensor) -> torch.Tensor:
        down = (fake_images[..., 1:, :] - fake_images[..., :-1, :]).abs().mean()
        right = (fake_images[..., :, 1:] - fake_images[..., :, :-1]).abs().mean()
        return self.weight * (down + right)


@hookimpl
def register_regularizers(register):
    register("total-variation", TotalVariation)
