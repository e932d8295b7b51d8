"""Pieces shared by the class-conditional networks: label checks, conditional BatchNorm and the
projection head of a discriminator (Miyato & Koyama, 2018)."""

from __future__ import annotations

import torch
from torch import nn

from gan_regularizers.errors import InputValueError


def require_labels(labels: torch.Tensor | None, batch: int, network: str) -> torch.Tensor:
    """``labels`` as int64 ``(batch,)``; a clear ``ValueError`` when missing or misshapen."""
    if labels is None:
        raise InputValueError(
            f"{network} is class-conditional (num_classes > 0): call it with labels, "
            f"network(inputs, labels) with labels an int64 tensor of shape ({batch},)."
        )
    if labels.shape != (batch,) or labels.is_floating_point():
        raise InputValueError(
            f"{network} expects integer labels of shape ({batch},), got {labels.dtype} "
            f"{tuple(labels.shape)}."
        )
    return labels.long()


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm whose scale and shift depend on the class: ``γ_y · x̂ + β_y``.

    ``x̂`` is the batch-normalised input (no affine of its own); ``γ_y`` and ``β_y`` are rows of
    two ``K×C`` embeddings, initialised to 1 and 0. Without labels (``num_classes = 0``) it is a
    plain ``BatchNorm2d``.
    """

    def __init__(self, channels: int, num_classes: int = 0) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.norm = nn.BatchNorm2d(channels, affine=num_classes == 0)
        if num_classes > 0:
            self.gamma = nn.Embedding(num_classes, channels)
            self.beta = nn.Embedding(num_classes, channels)
            nn.init.ones_(self.gamma.weight)
            nn.init.zeros_(self.beta.weight)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """``B×C×H×W`` → same shape."""
        normalised = self.norm(x)
        if self.num_classes == 0:
            return normalised
        labels = require_labels(labels, x.shape[0], "conditional BatchNorm")
        gamma = self.gamma(labels).to(x.dtype)[:, :, None, None]
        beta = self.beta(labels).to(x.dtype)[:, :, None, None]
        return gamma * normalised + beta
