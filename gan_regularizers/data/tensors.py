"""A dataset of images already in memory: ``(image in [-1, 1], label)`` pairs from two tensors."""

from __future__ import annotations

import torch
from torch.utils.data import Dataset


class TensorImages(Dataset):
    """``images`` (N×C×H×W float in ``[-1, 1]``) with ``labels`` (N int64), indexed together.

    Args:
        images: the images.
        labels: one integer label per image.
        name: what the data is, for reports (``"mnist5k"``).
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, name: str) -> None:
        if images.dim() != 4 or not images.is_floating_point():
            raise ValueError(
                f"{name}: images must be a float tensor N×C×H×W, got {images.dtype} "
                f"{tuple(images.shape)}."
            )
        if labels.shape != (images.shape[0],):
            raise ValueError(
                f"{name}: expected one label per image ({images.shape[0]}), got labels of shape "
                f"{tuple(labels.shape)}."
            )
        if images.shape[0] == 0:
            raise ValueError(f"{name}: the dataset is empty.")
        self.images = images.contiguous()
        self.labels = labels.long()
        self.name = name
        self.channels = int(images.shape[1])
        self.image_size = int(images.shape[-1])

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.images[index], int(self.labels[index])

    def __repr__(self) -> str:
        return f"TensorImages({self.name!r}, {len(self)} images {tuple(self.images.shape[1:])})"
