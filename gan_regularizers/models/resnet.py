"""The SNGAN/BigGAN-style ResNet (Miyato et al., 2018) for 32×32 and 64×64 images.

Generator (width ``w``, default 256): ``z → Linear → 4×4×w``, then ``log2(size) − 2``
up-blocks, each ``BN → ReLU → nearest ×2 → conv3×3 → BN → ReLU → conv3×3`` plus the shortcut
``nearest ×2 → conv1×1``; then ``BN → ReLU → conv3×3 → channels → tanh``. With
``num_classes = K > 0`` every BN is conditional (per-class ``γ`` and ``β``,
``ConditionalBatchNorm2d``).

Discriminator (width ``w``, default 128): an "optimized" first block ``conv3×3 → ReLU → conv3×3 →
avg-pool ×2`` with the shortcut ``avg-pool → conv1×1``; then ``log2(size) − 4`` down-blocks
``ReLU → conv3×3 → ReLU → conv3×3 → avg-pool`` (shortcut ``conv1×1 → avg-pool``) and two plain
blocks; ``ReLU``, global **sum** pooling to ``φ(x)`` (B×w), ``logit = ψ(φ(x))`` with ``ψ``
linear, plus ``⟨e(y), φ(x)⟩`` when conditional (the projection discriminator, Miyato & Koyama,
2018). Spectral normalisation (one power iteration per forward) wraps every weight of D,
including the label embedding, unless ``spectral_norm=False``.

Initialisation: Xavier-uniform weights (gain √2 on the residual convolutions, 1 elsewhere), zero
biases, as in the SNGAN reference code.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

from gan_regularizers.errors import ImageSizeError, InputValueError
from gan_regularizers.models.conditioning import ConditionalBatchNorm2d, require_labels

SUPPORTED_SIZES = (32, 64)


def _up_blocks(image_size: int) -> int:
    if image_size not in SUPPORTED_SIZES:
        raise ImageSizeError(
            f"the resnet architecture supports image sizes {SUPPORTED_SIZES}, got "
            f"{image_size!r}. Resize the data to 32 or 64 (config key image_size)."
        )
    return int(math.log2(image_size)) - 2


def _init(layer: nn.Module, gain: float = 1.0) -> nn.Module:
    nn.init.xavier_uniform_(layer.weight, gain)
    if getattr(layer, "bias", None) is not None:
        nn.init.zeros_(layer.bias)
    return layer


class GeneratorBlock(nn.Module):
    """``x → x_up + conv(ReLU(BN(conv(up(ReLU(BN(x)))))))``, doubling the side."""

    def __init__(self, in_channels: int, out_channels: int, num_classes: int) -> None:
        super().__init__()
        self.bn1 = ConditionalBatchNorm2d(in_channels, num_classes)
        self.conv1 = _init(nn.Conv2d(in_channels, out_channels, 3, 1, 1), math.sqrt(2))
        self.bn2 = ConditionalBatchNorm2d(out_channels, num_classes)
        self.conv2 = _init(nn.Conv2d(out_channels, out_channels, 3, 1, 1), math.sqrt(2))
        self.shortcut = _init(nn.Conv2d(in_channels, out_channels, 1, 1, 0))

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """``B×in×s×s → B×out×2s×2s``."""
        h = F.interpolate(F.relu(self.bn1(x, labels)), scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self.bn2(self.conv1(h), labels)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2, mode="nearest"))


class ResNetGenerator(nn.Module):
    """``z (B×z_dim)`` [+ ``labels (B,)``] ``→ images (B×channels×size×size)`` in ``[-1, 1]``.

    Args:
        image_size: 32 or 64.
        channels: image channels.
        z_dim: latent size (SNGAN: 128).
        width: channels of every block (SNGAN at 32×32: 256).
        num_classes: ``K > 0`` makes every BatchNorm conditional on the label.
    """

    def __init__(
        self, image_size: int = 32, channels: int = 3, z_dim: int = 128, width: int = 256,
        num_classes: int = 0,
    ) -> None:  # fmt: skip
        super().__init__()
        blocks = _up_blocks(image_size)
        self.image_size, self.channels, self.z_dim = image_size, channels, z_dim
        self.num_classes, self.width = num_classes, width
        self.linear = _init(nn.Linear(z_dim, 4 * 4 * width))
        self.blocks = nn.ModuleList(
            GeneratorBlock(width, width, num_classes) for _ in range(blocks)
        )
        self.bn = nn.BatchNorm2d(width)
        self.to_image = _init(nn.Conv2d(width, channels, 3, 1, 1))

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """``B×z_dim`` latents to ``B×C×H×W`` images in ``[-1, 1]``."""
        if z.dim() != 2 or z.shape[1] != self.z_dim:
            raise InputValueError(
                f"resnet generator expects latents of shape (B, {self.z_dim}), got "
                f"{tuple(z.shape)}."
            )
        if self.num_classes > 0:
            labels = require_labels(labels, z.shape[0], "resnet generator")
        h = self.linear(z).view(z.shape[0], self.width, 4, 4)
        for block in self.blocks:
            h = block(h, labels)
        return torch.tanh(self.to_image(F.relu(self.bn(h))))


class DiscriminatorBlock(nn.Module):
    """``x → shortcut(x) + conv(ReLU(conv(ReLU(x))))``, halving the side when ``down``.

    The "optimized" first block (``first=True``) has no ReLU before its first convolution and
    pools before its shortcut convolution.
    """

    def __init__(self, in_channels: int, out_channels: int, down: bool, first: bool) -> None:
        super().__init__()
        self.down, self.first = down, first
        self.conv1 = _init(nn.Conv2d(in_channels, out_channels, 3, 1, 1), math.sqrt(2))
        self.conv2 = _init(nn.Conv2d(out_channels, out_channels, 3, 1, 1), math.sqrt(2))
        learnable = in_channels != out_channels or down
        self.shortcut = _init(nn.Conv2d(in_channels, out_channels, 1, 1, 0)) if learnable else None

    def _residual(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(x if self.first else F.relu(x))
        h = self.conv2(F.relu(h))
        return F.avg_pool2d(h, 2) if self.down else h

    def _skip(self, x: torch.Tensor) -> torch.Tensor:
        if self.shortcut is None:
            return x
        if self.first:
            return self.shortcut(F.avg_pool2d(x, 2))
        h = self.shortcut(x)
        return F.avg_pool2d(h, 2) if self.down else h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``B×in×s×s → B×out×(s/2 or s)×…``."""
        return self._residual(x) + self._skip(x)


class ResNetDiscriminator(nn.Module):
    """``images`` [+ ``labels``] ``→ logits (B,)``; ``features`` gives ``φ(x)`` (B×width).

    Args:
        image_size: 32 or 64.
        channels: image channels.
        width: channels of every block (SNGAN at 32×32: 128).
        num_classes: ``K > 0`` adds the projection term ``⟨e(y), φ(x)⟩``.
        spectral_norm: wrap every weight in spectral normalisation (default on).
    """

    def __init__(
        self, image_size: int = 32, channels: int = 3, width: int = 128, num_classes: int = 0,
        spectral_norm: bool = True,
    ) -> None:  # fmt: skip
        super().__init__()
        downs = _up_blocks(image_size) - 2  # 32 → 1 more down-block, 64 → 2
        self.image_size, self.channels, self.num_classes = image_size, channels, num_classes
        blocks = [DiscriminatorBlock(channels, width, down=True, first=True)]
        blocks += [DiscriminatorBlock(width, width, down=True, first=False) for _ in range(downs)]
        blocks += [DiscriminatorBlock(width, width, down=False, first=False) for _ in range(2)]
        self.blocks = nn.Sequential(*blocks)
        self.linear = _init(nn.Linear(width, 1))
        self.embed = _init(nn.Embedding(num_classes, width)) if num_classes > 0 else None
        if spectral_norm:
            for module in list(self.modules()):
                if isinstance(module, (nn.Conv2d, nn.Linear, nn.Embedding)):
                    _spectral_norm(module)

    def features(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """``φ(x) = Σ_{h,w} ReLU(blocks(x))``, B×width."""
        expected = (self.channels, self.image_size, self.image_size)
        if images.dim() != 4 or tuple(images.shape[1:]) != expected:
            raise InputValueError(
                f"resnet discriminator expects images of shape (B, {expected[0]}, "
                f"{expected[1]}, {expected[2]}), got {tuple(images.shape)}."
            )
        return F.relu(self.blocks(images)).sum(dim=(2, 3))

    def forward(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """``ψ(φ(x)) [+ ⟨e(y), φ(x)⟩]``, shape ``(B,)``."""
        features = self.features(images)
        logits = self.linear(features).view(-1)
        if self.embed is None:
            return logits
        labels = require_labels(labels, images.shape[0], "resnet discriminator")
        return logits + (self.embed(labels).to(features.dtype) * features).sum(dim=1)
