"""Image sets that are not digits: the negatives an honest digit evaluator must reject.

Each function returns ``count × 1 × size × size`` float32 images in ``[-1, 1]`` (background
``-1``), drawn from its own ``torch.Generator`` so a seed gives the same set on every machine.
They serve twice: as the "not a digit" class when the evaluator is trained
(``scripts/train_digit_evaluator.py``) and, with other seeds, in the metric sanity suite, where
every metric must score them clearly worse than held-out real digits.

* ``uniform_noise``: every pixel ``U[-1, 1]``.
* ``noise_blobs``: Gaussian noise smoothed by a box filter of random width (2–6 px), rescaled to
  ``[-1, 1]`` and thresholded: soft ink blobs with no stroke structure.
* ``speckles``: a random fraction (5–40 %) of pixels set to ink inside a random central box:
  the varied speckled blobs an untrained generator makes.
* ``shuffled_digits``: real digits with their pixels permuted: the same ink histogram, no shape.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gan_regularizers.errors import InvalidOptionError

NON_DIGIT_KINDS = ("uniform_noise", "noise_blobs", "speckles", "shuffled_digits")


def uniform_noise(count: int, size: int = 32, seed: int = 0) -> torch.Tensor:
    """Every pixel drawn from ``U[-1, 1]``."""
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(count, 1, size, size, generator=generator) * 2 - 1


def noise_blobs(count: int, size: int = 32, seed: int = 0) -> torch.Tensor:
    """Box-smoothed Gaussian noise (width 2–6 px), min-max scaled, half the pixels background."""
    generator = torch.Generator().manual_seed(seed)
    out = torch.empty(count, 1, size, size)
    for index in range(count):
        width = int(torch.randint(2, 7, (1,), generator=generator))
        noise = torch.randn(1, 1, size + width, size + width, generator=generator)
        smooth = F.avg_pool2d(noise, width, stride=1)[..., :size, :size]
        level = torch.quantile(smooth.flatten(), 0.5)
        ink = (smooth - level).clamp(min=0)
        out[index] = ink / ink.max().clamp(min=1e-6) * 2 - 1
    return out


def speckles(count: int, size: int = 32, seed: int = 0) -> torch.Tensor:
    """Random ink pixels (5–40 % density, random grey level) inside a random central box."""
    generator = torch.Generator().manual_seed(seed)
    out = torch.full((count, 1, size, size), -1.0)
    for index in range(count):
        half = int(torch.randint(size // 6, size // 2, (1,), generator=generator))
        density = float(torch.empty(1).uniform_(0.05, 0.4, generator=generator))
        centre = size // 2
        box = (slice(centre - half, centre + half), slice(centre - half, centre + half))
        shape = (2 * half, 2 * half)
        mask = torch.rand(shape, generator=generator) < density
        grey = torch.rand(shape, generator=generator) * 2 - 1
        out[index, 0][box] = torch.where(mask, grey.abs(), torch.tensor(-1.0))
    return out


def shuffled_digits(digits: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """Each digit's pixels randomly permuted (ink histogram kept, shape destroyed)."""
    generator = torch.Generator().manual_seed(seed)
    flat = digits.reshape(digits.shape[0], -1)
    order = torch.argsort(torch.rand(flat.shape, generator=generator), dim=1)
    return flat.gather(1, order).reshape(digits.shape)


def non_digit_set(
    kind: str, count: int, size: int = 32, seed: int = 0, digits: torch.Tensor | None = None
) -> torch.Tensor:
    """One of ``NON_DIGIT_KINDS`` by name (``shuffled_digits`` needs ``digits``)."""
    if kind == "shuffled_digits":
        if digits is None:
            raise InvalidOptionError(
                "shuffled_digits needs real digits to shuffle: pass digits=..."
            )
        return shuffled_digits(digits[:count], seed)
    makers = {
        "uniform_noise": uniform_noise,
        "noise_blobs": noise_blobs,
        "speckles": speckles,
    }
    if kind not in makers:
        raise InvalidOptionError(
            f"unknown non-digit kind {kind!r}; choose one of {NON_DIGIT_KINDS}."
        )
    return makers[kind](count, size, seed)
