"""A small deterministic image set for tests and smoke runs: no files, no downloads.

Image ``i`` of class ``k = i mod num_classes`` is a soft square blob whose centre moves with
``k``, plus ``noise`` · N(0, 1) from a generator seeded with ``seed``, then clamped to
``[-1, 1]``. The same arguments always give bit-identical tensors.
"""

from __future__ import annotations

import torch

from gan_regularizers.data.tensors import TensorImages
from gan_regularizers.errors import DataSpecError

ACCEPTED = "synthetic accepts num_images, channels, num_classes (positive integers), noise and seed"


def synthetic_images(
    num_images: int = 16,
    channels: int = 1,
    image_size: int = 32,
    num_classes: int = 4,
    noise: float = 0.1,
    seed: int = 0,
) -> TensorImages:
    """``num_images`` blob images ``channels×image_size×image_size`` in ``[-1, 1]``, labelled."""
    for label, value, example in (
        ("num_images", num_images, 16), ("channels", channels, 3), ("num_classes", num_classes, 4)
    ):  # fmt: skip
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise DataSpecError(
                f"synthetic: {label} must be a positive integer, got {value!r}. {ACCEPTED}, "
                f"e.g. synthetic:{label}={example}."
            )
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(num_images) % num_classes
    grid = torch.linspace(-1.0, 1.0, image_size)
    rows, cols = grid[:, None], grid[None, :]
    images = torch.empty(num_images, channels, image_size, image_size)
    for i, label in enumerate(labels.tolist()):
        angle = 2 * torch.pi * label / num_classes
        cy, cx = 0.45 * torch.sin(torch.tensor(angle)), 0.45 * torch.cos(torch.tensor(angle))
        blob = torch.exp(-(((rows - cy) / 0.3) ** 4 + ((cols - cx) / 0.3) ** 4))
        for c in range(channels):
            shade = 1.0 - 0.3 * c
            images[i, c] = 2 * shade * blob - 1
    images += noise * torch.randn(images.shape, generator=generator)
    return TensorImages(images.clamp_(-1.0, 1.0), labels, name="synthetic")
