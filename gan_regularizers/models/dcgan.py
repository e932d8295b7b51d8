"""DCGAN generator and discriminator (Radford, Metz & Chintala, 2016) for 32×32 and 64×64 images.

Generator: ``z (B×z_dim) → ConvT(4×4, stride 1) → 4×4`` then ``log2(size) − 2`` upsampling blocks
``ConvT(4×4, stride 2, pad 1) → BatchNorm → ReLU`` halving the width each time; the last block
outputs ``channels`` maps through ``tanh``, so images lie in ``[-1, 1]``.

Discriminator: the mirror image, ``Conv(4×4, stride 2, pad 1) → BatchNorm → LeakyReLU(0.2)``
(no BatchNorm on the first block), down to ``4×4``, then ``Conv(4×4, stride 1) → 1`` logit. It
returns raw logits of shape ``(B,)``: no sigmoid (the losses apply it stably).

Weights start as in the paper: convolutions ``N(0, 0.02)``; BatchNorm scale ``N(1, 0.02)``, shift 0.
With ``base_width = w`` a 64×64 generator has widths ``8w, 4w, 2w, w``; a 32×32 one ``4w, 2w, w``.

Class-conditional (``num_classes = K > 0``, not in the paper): G reads ``[z, e(y)]``, the latent
concatenated with a learned ``K``-d label embedding; D adds a projection term (Miyato & Koyama,
2018), ``logit = ψ(φ(x)) + ⟨e_D(y), φ(x)⟩``, with ``φ(x)`` the flattened input of the last
convolution (``DCGANDiscriminator.features``).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from gan_regularizers.models.conditioning import require_labels

SUPPORTED_SIZES = (32, 64)


def _num_blocks(image_size: int) -> int:
    if image_size not in SUPPORTED_SIZES:
        raise ValueError(
            f"DCGAN supports image sizes {SUPPORTED_SIZES}, got {image_size!r}. "
            "Resize the data to 32 or 64 (option image_size)."
        )
    return int(math.log2(image_size)) - 2


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"DCGAN: {name} must be a positive integer, got {value!r}.")


def dcgan_init_(module: nn.Module) -> None:
    """DCGAN init in place: conv ``N(0, 0.02)``; BatchNorm ``γ ~ N(1, 0.02)``, ``β = 0``."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(layer.weight, 0.0, 0.02)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.BatchNorm2d):
            nn.init.normal_(layer.weight, 1.0, 0.02)
            nn.init.zeros_(layer.bias)


class DCGANGenerator(nn.Module):
    """``z (B×z_dim)`` [+ ``labels (B,)``] ``→ images (B×channels×size×size)`` in ``[-1, 1]``.

    Args:
        image_size: 32 or 64.
        channels: 1 (grayscale) or 3 (RGB).
        z_dim: latent size (the paper: 100).
        base_width: width of the last hidden block (the paper: 64); earlier blocks double it.
        num_classes: ``K > 0`` makes G class-conditional (a ``K``-d label embedding joins z).
    """

    def __init__(
        self,
        image_size: int = 64,
        channels: int = 3,
        z_dim: int = 100,
        base_width: int = 64,
        num_classes: int = 0,
    ) -> None:
        super().__init__()
        _check_positive(channels=channels, z_dim=z_dim, base_width=base_width)
        blocks = _num_blocks(image_size)
        self.image_size, self.channels, self.z_dim = image_size, channels, z_dim
        self.num_classes = num_classes
        self.embed = nn.Embedding(num_classes, num_classes) if num_classes > 0 else None
        width = base_width * 2 ** (blocks - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(z_dim + num_classes, width, 4, 1, 0, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
        ]
        for _ in range(blocks - 1):
            layers += [
                nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(width // 2),
                nn.ReLU(inplace=True),
            ]
            width //= 2
        layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        dcgan_init_(self)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """``B×z_dim`` (or ``B×z_dim×1×1``) latents to ``B×C×H×W`` images in ``[-1, 1]``."""
        if z.dim() == 2:
            z = z[:, :, None, None]
        if z.dim() != 4 or z.shape[1] != self.z_dim:
            raise ValueError(
                f"DCGAN generator expects latents of shape (B, {self.z_dim}), got {tuple(z.shape)}."
            )
        if self.embed is not None:
            embedded = self.embed(require_labels(labels, z.shape[0], "DCGAN generator"))
            z = torch.cat([z, embedded.to(z.dtype)[:, :, None, None]], dim=1)
        return self.net(z)


class DCGANDiscriminator(nn.Module):
    """``images (B×channels×size×size)`` [+ ``labels (B,)``] ``→ logits (B,)``.

    Args:
        image_size: 32 or 64.
        channels: 1 (grayscale) or 3 (RGB).
        base_width: width of the first block (the paper: 64); later blocks double it.
        num_classes: ``K > 0`` adds the projection term ``⟨e_D(y), φ(x)⟩``.
    """

    def __init__(
        self, image_size: int = 64, channels: int = 3, base_width: int = 64, num_classes: int = 0
    ) -> None:
        super().__init__()
        _check_positive(channels=channels, base_width=base_width)
        blocks = _num_blocks(image_size)
        self.image_size, self.channels = image_size, channels
        width = base_width
        layers: list[nn.Module] = [
            nn.Conv2d(channels, width, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        for _ in range(blocks - 1):
            layers += [
                nn.Conv2d(width, width * 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(width * 2),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            width *= 2
        layers.append(nn.Conv2d(width, 1, 4, 1, 0, bias=False))
        self.net = nn.Sequential(*layers)
        self.num_classes = num_classes
        self.embed = nn.Embedding(num_classes, width * 16) if num_classes > 0 else None
        dcgan_init_(self)
        if self.embed is not None:
            nn.init.normal_(self.embed.weight, 0.0, 0.02)

    def _check(self, images: torch.Tensor) -> torch.Tensor:
        expected = (self.channels, self.image_size, self.image_size)
        if images.dim() != 4 or tuple(images.shape[1:]) != expected:
            raise ValueError(
                f"DCGAN discriminator expects images of shape (B, {expected[0]}, {expected[1]}, "
                f"{expected[2]}), got {tuple(images.shape)}."
            )
        return images

    def features(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """``φ(x)``: the flattened ``B×(16·width)`` input of the last convolution."""
        return self.net[:-1](self._check(images)).flatten(1)

    def forward(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """``B×C×H×W`` images to ``(B,)`` raw logits (plus the projection when conditional)."""
        if self.embed is None:
            return self.net(self._check(images)).view(-1)
        features = self.features(images)
        logits = nn.functional.linear(features, self.net[-1].weight.flatten(1)).view(-1)
        embedded = self.embed(require_labels(labels, images.shape[0], "DCGAN discriminator"))
        return logits + (embedded.to(features.dtype) * features).sum(dim=1)
