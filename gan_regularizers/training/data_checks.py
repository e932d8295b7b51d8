"""Checks of the training images before step 1: the generator's tanh makes ``[-1, 1]``.

* values far outside ``[-1, 1]`` (max > 2: the ``[0, 255]`` pixels of an unscaled ``uint8``
  image) are refused with ``TrainingDataError``;
* data whose minimum over the first images is ≥ 0 (the classic ``ToTensor()`` ``[0, 1]``) trains,
  but D then tells real from fake by the sign of the pixels: a ``TrainingDataWarning`` says
  how to rescale.
"""

from __future__ import annotations

import warnings

import torch
from torch.utils.data import Dataset

from gan_regularizers.errors import TrainingDataError, TrainingDataWarning

CHECKED_IMAGES = 256


def first_images(dataset: Dataset, count: int = CHECKED_IMAGES) -> torch.Tensor:
    """The first ``count`` images of ``dataset`` (its ``images`` tensor when it has one)."""
    size = min(count, len(dataset))  # type: ignore[arg-type]
    images = getattr(dataset, "images", None)
    if isinstance(images, torch.Tensor):
        return images[:size]
    return torch.stack([torch.as_tensor(dataset[i][0]) for i in range(size)])


def check_training_range(dataset: Dataset, name: str) -> None:
    """Refuse ``[0, 255]`` data; warn on data with min ≥ 0 (expected: ``[-1, 1]``)."""
    images = first_images(dataset).float()
    if images.numel() == 0:
        return
    low, high = float(images.min()), float(images.max())
    if high > 2.0 or low < -2.0:
        raise TrainingDataError(
            f"the training images ({name}) range over [{low:g}, {high:g}] in the first "
            f"{images.shape[0]} images; the generator makes images in [-1, 1]. Scale them: "
            "x / 127.5 - 1 for [0, 255] pixels (x * 2 - 1 for [0, 1])."
        )
    if low >= 0.0:
        warnings.warn(
            f"the training images ({name}) have no negative value in the first "
            f"{images.shape[0]} images (range [{low:g}, {high:g}]): they look like [0, 1] "
            "(torchvision's ToTensor()), but the generator makes [-1, 1] and D will tell real "
            "from fake by range alone. Rescale with x * 2 - 1 (or Normalize((0.5,), (0.5,))).",
            TrainingDataWarning,
            stacklevel=3,
        )
