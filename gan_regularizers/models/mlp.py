"""Small fully connected networks for 2-D and toy data.

The data side of the package works on ``B×C×H×W`` images, so a 2-D point ``(x, y)`` is a
``2×1×1`` "image" (``channels = 2``, ``image_size = 1``); any ``C×S×S`` shape works the same way,
flattened to ``C·S·S`` numbers.

Generator: ``z → Linear(w) → ReLU → Linear(w) → ReLU → Linear(C·S·S) → tanh``, reshaped to
``B×C×S×S`` (so the outputs lie in ``[-1, 1]``: scale the data into that range). With
``num_classes = K > 0`` a ``K``-d label embedding is concatenated to ``z``.

Discriminator: ``flatten → Linear(w) → LeakyReLU(0.2) → Linear(w) → LeakyReLU(0.2)`` gives
``φ(x)`` (B×w); ``logit = Linear(φ(x))``, plus ``⟨e(y), φ(x)⟩`` when conditional (projection).
"""

from __future__ import annotations

import torch
from torch import nn

from gan_regularizers.errors import InputValueError
from gan_regularizers.models.conditioning import require_labels


class MLPGenerator(nn.Module):
    """``z (B×z_dim)`` [+ ``labels``] ``→ B×channels×size×size`` in ``[-1, 1]``."""

    def __init__(
        self, image_size: int = 1, channels: int = 2, z_dim: int = 16, width: int = 128,
        num_classes: int = 0,
    ) -> None:  # fmt: skip
        super().__init__()
        self.image_size, self.channels, self.z_dim = image_size, channels, z_dim
        self.num_classes = num_classes
        self.embed = nn.Embedding(num_classes, num_classes) if num_classes > 0 else None
        self.net = nn.Sequential(
            nn.Linear(z_dim + num_classes, width),
            nn.ReLU(),
            nn.Linear(width, width),
            nn.ReLU(),
            nn.Linear(width, channels * image_size * image_size),
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """``B×z_dim`` → ``B×C×S×S``."""
        if z.dim() != 2 or z.shape[1] != self.z_dim:
            raise InputValueError(
                f"mlp generator expects latents of shape (B, {self.z_dim}), got {tuple(z.shape)}."
            )
        if self.embed is not None:
            embedded = self.embed(require_labels(labels, z.shape[0], "mlp generator"))
            z = torch.cat([z, embedded.to(z.dtype)], dim=1)
        size = self.image_size
        return self.net(z).view(z.shape[0], self.channels, size, size)


class MLPDiscriminator(nn.Module):
    """``B×channels×size×size`` [+ ``labels``] ``→ logits (B,)``."""

    def __init__(
        self, image_size: int = 1, channels: int = 2, width: int = 128, num_classes: int = 0
    ) -> None:
        super().__init__()
        self.image_size, self.channels, self.num_classes = image_size, channels, num_classes
        self.body = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels * image_size * image_size, width),
            nn.LeakyReLU(0.2),
            nn.Linear(width, width),
            nn.LeakyReLU(0.2),
        )
        self.linear = nn.Linear(width, 1)
        self.embed = nn.Embedding(num_classes, width) if num_classes > 0 else None
        if self.embed is not None:
            nn.init.normal_(self.embed.weight, 0.0, 0.02)

    def features(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """``φ(x)``, B×width."""
        expected = (self.channels, self.image_size, self.image_size)
        if images.dim() != 4 or tuple(images.shape[1:]) != expected:
            raise InputValueError(
                f"mlp discriminator expects inputs of shape (B, {expected[0]}, {expected[1]}, "
                f"{expected[2]}), got {tuple(images.shape)}."
            )
        return self.body(images)

    def forward(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """``Linear(φ(x)) [+ ⟨e(y), φ(x)⟩]``, shape ``(B,)``."""
        features = self.features(images)
        logits = self.linear(features).view(-1)
        if self.embed is None:
            return logits
        labels = require_labels(labels, images.shape[0], "mlp discriminator")
        return logits + (self.embed(labels).to(features.dtype) * features).sum(dim=1)
