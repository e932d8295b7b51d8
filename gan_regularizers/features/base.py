"""The base of every feature space: checked input, shared preprocessing, a frozen backbone.

``forward(images)`` maps a float batch ``B×3×H×W`` in ``input_range`` (default ``[-1, 1]``) to
``B×d`` float32 features:

1. check the batch (rank, channels, dtype, range, NaN/Inf; see ``image_checks``);
2. map to ``[0, 1]``: ``x01 = (x - low) / (high - low)``;
3. resize to ``resize`` when the backbone has one (``resize_mode``, ``antialias``);
4. normalise with the backbone's own statistics: ``(x01 - mean) / std``;
5. run the frozen backbone (``embed``), flatten, return float32.

Real and fake images take the same path, so statistics fitted on one apply to the other.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from gan_regularizers.checks.images import check_images, check_min_size
from gan_regularizers.features.preprocessing import (
    AUTOCAST_DTYPES,
    IMAGENET_MEAN,
    IMAGENET_STD,
    RESIZE_MODES,
    Preprocessing,
)

#: the keys every backbone descriptor has (cache keys: one schema for every space)
DESCRIPTOR_KEYS = ("feature_space", "backbone", "weights", "weights_sha256", "layer", "pooling")


class FeatureSpace(nn.Module):
    """A frozen, differentiable embedding of images; subclasses implement ``embed``.

    Args:
        preprocessing: a ``Preprocessing``, or
            its keywords (``resize`` — also spelled ``input_size`` —, ``mean``, ``std``,
            ``resize_mode``, ``antialias``, ``input_range``, ``grayscale``, ``dtype``).
    """

    name: str = "feature-space"
    #: whether gradients flow from the features back to the images (the centroid needs it)
    differentiable: bool = True
    #: the smallest side the backbone takes when images are not resized
    min_image_size: int = 1

    def __init__(self, preprocessing: Preprocessing | None = None, **options: Any) -> None:
        super().__init__()
        if preprocessing is None:  # the keywords of Preprocessing; ``input_size`` = ``resize``
            if "input_size" in options:
                options["resize"] = options.pop("input_size")
            preprocessing = Preprocessing.build({}, options, space=self.name)
        elif options:
            raise TypeError("pass either a Preprocessing or its keywords, not both.")
        self.preprocessing = preprocessing
        self.register_buffer("mean", torch.tensor(preprocessing.mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(preprocessing.std).view(1, -1, 1, 1))

    # -- the preprocessing, by name ------------------------------------------------------------
    @property
    def input_size(self) -> int | tuple[int, int] | None:
        return self.preprocessing.resize

    @property
    def resize_mode(self) -> str:
        return self.preprocessing.resize_mode

    @property
    def antialias(self) -> bool:
        return self.preprocessing.antialias

    @property
    def input_range(self) -> tuple[float, float]:
        return self.preprocessing.input_range

    @property
    def grayscale(self) -> str:
        return self.preprocessing.grayscale

    @property
    def dtype_name(self) -> str | None:
        return self.preprocessing.dtype

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
        return self.preprocessing.resize_to

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
        """A plain dict that identifies this space exactly; statistics and caches key on it.

        Every space has the keys of ``DESCRIPTOR_KEYS`` (from ``backbone_descriptor``),
        then its preprocessing (``Preprocessing.descriptor``) and the torch version.
        """
        backbone = self.backbone_descriptor()
        missing = [key for key in DESCRIPTOR_KEYS if key not in backbone]
        if missing:
            raise NotImplementedError(
                f"{type(self).__name__}.backbone_descriptor() lacks {', '.join(missing)}; every "
                f"feature space describes itself with {', '.join(DESCRIPTOR_KEYS)}."
            )
        return {
            **backbone,
            **self.preprocessing.descriptor(),
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
        dtype = AUTOCAST_DTYPES[self.dtype_name]
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


__all__ = [
    "DESCRIPTOR_KEYS",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "RESIZE_MODES",
    "FeatureSpace",
    "Preprocessing",
]
