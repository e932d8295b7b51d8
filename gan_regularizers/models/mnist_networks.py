"""The two small networks trained on mnist5k and shipped with the package.

Both take normalised gray digits ``B×1×32×32``: ``(x01 - 0.5) / 0.5``, which is exactly the
``[-1, 1]`` image (background ``-1``, ink ``+1``). They are deliberately different, so that a
generator regularized in one space is not evaluated in the same space:

* ``MnistFeatureNet`` (``mnist-features-cnn``): four 3×3 conv-BN-ReLU layers (32, 32, 64,
  64 channels, 2×2 max-pool after the 1st and 3rd), global average pooling to a 64-d embedding, a
  linear head to 10 classes. The embedding is the ``mnist-features`` feature space.
* ``MnistClassifierNet`` (``mnist-classifier-cnn``): three 5×5/5×5/3×3 conv-BN-ReLU layers
  (16, 32, 64 channels, max-pool after each), average pooling to 2×2, a 256→128 linear layer with
  ReLU (the 128-d penultimate embedding, the ``mnist-classifier`` space), dropout 0.3 and a
  linear head to 10 classes. It is used for evaluation only (accuracy, mode coverage).

``scripts/train_mnist_networks.py`` trains both (different seeds) and writes their state_dicts.
"""

from __future__ import annotations

import torch
from torch import nn

INPUT_SIZE = 32
NUM_CLASSES = 10
MEAN = (0.5,)
STD = (0.5,)


def _conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int) -> list[nn.Module]:
    return [
        nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    ]


class MnistFeatureNet(nn.Module):
    """3×3 CNN, global average pooling to a 64-d embedding, linear head (``B×1×32×32`` input)."""

    architecture = "mnist-features-cnn"
    embedding_dim = 64

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            *_conv_bn_relu(1, 32, 3),
            nn.MaxPool2d(2),  # 16×16
            *_conv_bn_relu(32, 32, 3),
            *_conv_bn_relu(32, 64, 3),
            nn.MaxPool2d(2),  # 8×8
            *_conv_bn_relu(64, self.embedding_dim, 3),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.head = nn.Linear(self.embedding_dim, NUM_CLASSES)

    def embed(self, pixels: torch.Tensor) -> torch.Tensor:
        """Normalised ``B×1×32×32`` → ``B×64`` embedding (global average of ReLU features)."""
        return self.features(pixels)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """Normalised ``B×1×32×32`` → ``B×10`` class logits."""
        return self.head(self.embed(pixels))


class MnistClassifierNet(nn.Module):
    """5×5/5×5/3×3 CNN, 2×2 average pooling, 128-d ReLU embedding, dropout, linear head."""

    architecture = "mnist-classifier-cnn"
    embedding_dim = 128

    def __init__(self, dropout: float = 0.3) -> None:
        super().__init__()
        self.features = nn.Sequential(
            *_conv_bn_relu(1, 16, 5),
            nn.MaxPool2d(2),  # 16×16
            *_conv_bn_relu(16, 32, 5),
            nn.MaxPool2d(2),  # 8×8
            *_conv_bn_relu(32, 64, 3),
            nn.MaxPool2d(2),  # 4×4
            nn.AdaptiveAvgPool2d(2),  # 2×2
            nn.Flatten(),
            nn.Linear(64 * 2 * 2, self.embedding_dim),
            nn.ReLU(inplace=True),
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.embedding_dim, NUM_CLASSES)

    def embed(self, pixels: torch.Tensor) -> torch.Tensor:
        """Normalised ``B×1×32×32`` → ``B×128`` penultimate embedding (after ReLU)."""
        return self.features(pixels)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """Normalised ``B×1×32×32`` → ``B×10`` class logits."""
        return self.head(self.dropout(self.embed(pixels)))


def _networks() -> dict[str, type[nn.Module]]:
    from gan_regularizers.models.digit_evaluator import DigitEvaluatorNet

    return {
        MnistFeatureNet.architecture: MnistFeatureNet,
        MnistClassifierNet.architecture: MnistClassifierNet,
        DigitEvaluatorNet.architecture: DigitEvaluatorNet,
    }


NETWORKS: dict[str, type[nn.Module]] = _networks()
