"""The embedded digit evaluator: a LeNet-5 that also says "this is not a digit".

Built to be independent of the ``mnist-features`` network that the centroid regularizer uses:
another architecture (LeNet-5: 5×5 convolutions with tanh and average pooling, no batch norm,
120-d embedding, versus 3×3 conv-BN-ReLU with max pooling and a 64-d global-average embedding),
another optimiser and schedule (SGD with Nesterov momentum and a cosine schedule, versus AdamW
one-cycle), another augmentation (integer shifts of up to 3 px and Gaussian pixel noise, versus a
random affine warp) and another data split (mnist5k split seed 1, versus seed 0). Its head has
eleven outputs: the ten digits and a reject class trained on non-digits (uniform noise, smoothed
noise blobs, speckles, pixel-shuffled digits; ``gan_regularizers.data.non_digits``).

A sample is *accepted* as a digit when the most probable class is a digit and its softmax
probability is at least ``ACCEPT_THRESHOLD``.
"""

from __future__ import annotations

import torch
from torch import nn

ARCHITECTURE = "mnist-evaluator-lenet5"
NUM_DIGITS = 10
REJECT_CLASS = 10
ACCEPT_THRESHOLD = 0.9


class DigitEvaluatorNet(nn.Module):
    """LeNet-5 on normalised ``B×1×32×32`` digits; 120-d embedding; 11-way head (10 = reject)."""

    architecture = ARCHITECTURE
    embedding_dim = 120

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5),  # 28×28
            nn.Tanh(),
            nn.AvgPool2d(2),  # 14×14
            nn.Conv2d(6, 16, 5),  # 10×10
            nn.Tanh(),
            nn.AvgPool2d(2),  # 5×5
            nn.Flatten(),
            nn.Linear(16 * 5 * 5, self.embedding_dim),
            nn.Tanh(),
        )
        self.head = nn.Sequential(
            nn.Linear(self.embedding_dim, 84), nn.Tanh(), nn.Linear(84, NUM_DIGITS + 1)
        )

    def embed(self, pixels: torch.Tensor) -> torch.Tensor:
        """Normalised ``B×1×32×32`` → ``B×120`` embedding (LeNet's first fully connected layer,
        after tanh; chosen over the 84-d layer because it is less aligned with ``mnist-features``:
        linear CKA 0.70 versus 0.81 on the 5,000 digits)."""
        return self.features(pixels)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """Normalised ``B×1×32×32`` → ``B×11`` logits (10 digits, then the reject class)."""
        return self.head(self.embed(pixels))


def accepted_digits(logits: torch.Tensor, threshold: float = ACCEPT_THRESHOLD) -> torch.Tensor:
    """Per sample: the accepted digit (0–9), or ``-1`` when rejected.

    ``p = softmax(logits)``; accepted iff ``argmax p < 10`` and ``max p ≥ threshold``.
    """
    probabilities = logits.float().softmax(dim=1)
    confidence, predicted = probabilities.max(dim=1)
    accepted = (predicted != REJECT_CLASS) & (confidence >= threshold)
    return torch.where(accepted, predicted, torch.full_like(predicted, -1))
