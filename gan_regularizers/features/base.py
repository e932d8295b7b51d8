"""The base of every feature space: checked input, shared preprocessing, a frozen backbone.

``forward(images)`` maps a float batch ``B×3×H×W`` in ``input_range`` (default ``[-1, 1]``) to
``B×d`` float32 features:

1. check the batch (rank, channels, dtype, range, NaN/Inf; see :mod:`image_checks`);
2. map to ``[0, 1]``: ``x01 = (x - low) / (high - low)``;
3. resize to ``input_size`` when the backbone has one (``resize_mode``, ``antialias``);
4. normalise with the backbone's own statistics: ``(x01 - mean) / std``;
5. run the frozen backbone (``embed``), flatten, return float32.

Real and fake images take the same path, so statistics fitted on one apply to the other.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from gan_regularizers.checks.images import check_images, check_min_size

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
RESIZE_MODES = ("bilinear", "bicubic", "area", "nearest", "nearest-exact")
_AUTOCAST_DTYPES = {
    None: None,
    "float32": None,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
}


class FeatureSpace(nn.Module):
    """A frozen, differentiable embedding of images; subclasses implement :meth:`embed`.

    Args:
        input_size: side (or ``(height, width)``) the backbone expects; images are resized to
            it. ``None`` keeps the size given.
        mean, std: per-channel normalisation of the backbone, applied to ``[0, 1]`` pixels.
        resize_mode: interpolation mode of :func:`torch.nn.functional.interpolate`.
        antialias: antialias when resizing (only for bilinear and bicubic).
        input_range: the range of the images callers pass, ``(-1, 1)`` or ``(0, 1)``.
        grayscale: ``"error"`` or ``"repeat"`` (1-channel images repeated to RGB).
        dtype: ``"bfloat16"`` or ``"float16"`` runs the backbone under autocast; features are
            returned as float32 in every case.
    """

    name: str = "feature-space"
    #: whether gradients flow from the features back to the images (the centroid needs it)
    differentiable: bool = True
    #: the smallest side the backbone takes when images are not resized
    min_image_size: int = 1

    def __init__(
        self,
        *,
        input_size: int | tuple[int, int] | None,
        mean: Sequence[float],
        std: Sequence[float],
        resize_mode: str = "bilinear",
        antialias: bool = True,
        input_range: tuple[float, float] = (-1.0, 1.0),
        grayscale: str = "error",
        dtype: str | None = None,
    ) -> None:
        super().__init__()
        low, high = (float(v) for v in input_range)
        if not high > low:
            raise ValueError(f"input_range must be (low, high) with high > low, got {input_range}.")
        if grayscale not in ("error", "repeat"):
            raise ValueError(f"grayscale must be 'error' or 'repeat', got {grayscale!r}.")
        if resize_mode not in RESIZE_MODES:
            raise ValueError(f"resize_mode must be one of {RESIZE_MODES}, got {resize_mode!r}.")
        if dtype not in _AUTOCAST_DTYPES:
            raise ValueError(
                f"dtype must be one of {[k for k in _AUTOCAST_DTYPES if k]} or None, got {dtype!r}."
            )
        self.input_size = _check_input_size(input_size)
        self.resize_mode = resize_mode
        self.antialias = bool(antialias) and resize_mode in ("bilinear", "bicubic")
        self.input_range = (low, high)
        self.grayscale = grayscale
        self.dtype_name = dtype
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    # -- what subclasses provide -------------------------------------------------------------
    def embed(self, pixels: torch.Tensor) -> torch.Tensor:
        """Backbone features of normalised pixels ``B×3×S×S``; any shape with batch first."""
        raise NotImplementedError

    def backbone_descriptor(self) -> dict[str, Any]:
        """What identifies the backbone: name, weights tag and sha256, layer, pooling, …"""
        raise NotImplementedError

    # -- shared behaviour --------------------------------------------------------------------
    @property
    def resize_to(self) -> tuple[int, int] | None:
        """``(height, width)`` images are resized to, or ``None`` (no resizing)."""
        if self.input_size is None:
            return None
        if isinstance(self.input_size, int):
            return (self.input_size, self.input_size)
        return self.input_size

    def freeze(self) -> FeatureSpace:
        """Stop gradients to every parameter and switch to eval mode for good."""
        for parameter in self.parameters():
            parameter.requires_grad_(False)
        return self.train(False)

    def train(self, mode: bool = True) -> FeatureSpace:
        """Stay in eval mode whatever a parent module asks: a feature space is frozen."""
        return super().train(False)

    @property
    def descriptor(self) -> dict[str, Any]:
        """A plain dict that identifies this space exactly; statistics and caches key on it."""
        return {
            **self.backbone_descriptor(),
            "input_size": (
                list(self.input_size) if isinstance(self.input_size, tuple) else self.input_size
            ),
            "resize_mode": self.resize_mode if self.input_size is not None else None,
            "antialias": self.antialias if self.input_size is not None else None,
            "normalization": {
                "mean": [round(float(v), 6) for v in self.mean.flatten()],
                "std": [round(float(v), 6) for v in self.std.flatten()],
            },
            "input_range": list(self.input_range),
            "grayscale": self.grayscale,
            "torch": torch.__version__.split("+")[0],
        }

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """Check, map to ``[0, 1]``, resize and normalise (steps 1-4 of the module docstring)."""
        images = check_images(
            images,
            input_range=self.input_range,
            grayscale=self.grayscale,
            where=f"the input of the {self.name!r} feature space",
        )
        size = self.resize_to
        if size is None:
            check_min_size(
                images,
                self.min_image_size,
                where=f"the images given to the {self.name!r} feature space",
                fix="Pass larger images, or resize=... (e.g. resize=224) to resize them.",
            )
        low, high = self.input_range
        pixels = (images.float() - low) / (high - low)
        if size is not None and tuple(pixels.shape[-2:]) != size:
            if self.resize_mode in ("bilinear", "bicubic"):
                pixels = F.interpolate(
                    pixels,
                    size=size,
                    mode=self.resize_mode,
                    align_corners=False,
                    antialias=self.antialias,
                )
            else:
                pixels = F.interpolate(pixels, size=size, mode=self.resize_mode)
        return (pixels - self.mean) / self.std

    def _autocast(self, device: torch.device) -> contextlib.AbstractContextManager[Any]:
        dtype = _AUTOCAST_DTYPES[self.dtype_name]
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=device.type, dtype=dtype)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``B×3×H×W`` images in ``input_range`` → ``B×d`` float32 features."""
        pixels = self.preprocess(images).contiguous(memory_format=torch.channels_last)
        with self._autocast(pixels.device):
            features = self.embed(pixels)
        return features.reshape(features.shape[0], -1).float()

    @torch.inference_mode()
    def extract(self, images: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
        """Features without gradients, in batches of ``batch_size``, under inference mode."""
        return torch.cat([self(chunk) for chunk in images.split(batch_size)])

    def extra_repr(self) -> str:
        return f"name={self.name!r}, input_size={self.input_size}, input_range={self.input_range}"


def _check_input_size(
    input_size: int | tuple[int, int] | list[int] | None,
) -> int | tuple[int, int] | None:
    """A positive side, a ``(height, width)`` pair (square pairs become one int), or ``None``."""
    if input_size is None:
        return None
    if isinstance(input_size, (tuple, list)) and len(input_size) == 2:
        height, width = input_size
        if all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in input_size):
            return height if height == width else (height, width)
    elif isinstance(input_size, int) and not isinstance(input_size, bool) and input_size > 0:
        return input_size
    raise ValueError(
        f"input size must be a positive integer, a (height, width) pair or None, got "
        f"{input_size!r}."
    )
