"""Quantise generated images to uint8 the way saved PNGs would be: round, then clamp.

``q = clamp(round((x − low) / (high − low) · 255), 0, 255)``. Never truncation (``.byte()`` maps
0.999 to 254) and never wrap-around (−0.01 to 254): values within the check's tolerance outside
the range are clamped, values further out are an error.
"""

from __future__ import annotations

import torch

from gan_regularizers.checks.images import check_images


def to_uint8(
    images: torch.Tensor,
    input_range: tuple[float, float] = (-1.0, 1.0),
    grayscale: str = "repeat",
) -> torch.Tensor:
    """Float images ``B×C×H×W`` in ``input_range`` → uint8 ``B×3×H×W`` in [0, 255]."""
    images = check_images(
        images, input_range=input_range, grayscale=grayscale, where="images to quantise"
    )
    low, high = input_range
    scaled = (images.to(torch.float64) - low) / (high - low) * 255.0
    return scaled.round().clamp(0, 255).to(torch.uint8)
