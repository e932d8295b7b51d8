"""Two example regularizers, one per side of the game, and an augmentation.

* ``total-variation`` (generator side): weight · mean(|x[..., i+1, :] − x[..., i, :]|)
  + weight · mean(|x[..., :, j+1] − x[..., :, j]|) on the generated images;
* ``logit-penalty`` (discriminator side, ProGAN's "drift" term, Karras et al. 2018):
  weight · E[D(x)²] on the real logits, which keeps D's outputs from drifting far from 0;
* ``random-flip`` (augmentation): mirrors each image left-right with probability p, before
  every discriminator call (differentiable: a flip is a permutation of pixels);
* ``linear`` (architecture): the smallest GAN, G: z → Linear → tanh, D: Linear → 1 logit, on the
  flattened C×S×S image; unconditional only.
"""

import torch
from torch import nn

from gan_regularizers import hookimpl


class TotalVariation(nn.Module):
    side = "generator"

    def __init__(self, weight: float = 0.01) -> None:
        super().__init__()
        self.weight = weight

    def forward(self, fake_images: torch.Tensor) -> torch.Tensor:
        down = (fake_images[..., 1:, :] - fake_images[..., :-1, :]).abs().mean()
        right = (fake_images[..., :, 1:] - fake_images[..., :, :-1]).abs().mean()
        return self.weight * (down + right)


class LogitPenalty(nn.Module):
    side = "discriminator"

    def __init__(self, weight: float = 0.001) -> None:
        super().__init__()
        self.weight = weight

    def forward(self, batch) -> torch.Tensor:
        # batch: gan_regularizers.plugin_system.contracts.DiscriminatorBatch
        return self.weight * batch.real_logits.float().square().mean()


class RandomFlip(nn.Module):
    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        self.p = p

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        flip = torch.rand(images.shape[0], 1, 1, 1, device=images.device) < self.p
        return torch.where(flip, images.flip(-1), images)


class LinearGenerator(nn.Module):
    def __init__(self, image_size: int, channels: int, z_dim: int) -> None:
        super().__init__()
        self.z_dim, self.shape = z_dim, (channels, image_size, image_size)
        self.linear = nn.Linear(z_dim, channels * image_size * image_size)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.linear(z)).view(z.shape[0], *self.shape)


class LinearDiscriminator(nn.Module):
    def __init__(self, image_size: int, channels: int) -> None:
        super().__init__()
        self.linear = nn.Linear(channels * image_size * image_size, 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.linear(images.flatten(1)).view(-1)


def linear_gan(*, image_size, channels, z_dim, num_classes=0):
    if num_classes:
        raise ValueError("the linear architecture is unconditional; use num_classes = 0")
    return LinearGenerator(image_size, channels, z_dim), LinearDiscriminator(image_size, channels)


@hookimpl
def register_architectures(register):
    register("linear", linear_gan)


@hookimpl
def register_augmentations(register):
    register("random-flip", RandomFlip)


@hookimpl
def register_regularizers(register):
    register("total-variation", TotalVariation)
    register("logit-penalty", LogitPenalty)
