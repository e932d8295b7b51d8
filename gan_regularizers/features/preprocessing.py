"""How images reach a backbone, in one checked object: range, resize, normalisation, precision.

Every feature space maps ``[low, high]`` images to ``[0, 1]`` (``x01 = (x − low)/(high − low)``),
resizes them to ``resize`` when given, and normalises ``(x01 − mean)/std``. A backbone states its
defaults once (its mean/std, its input size, its interpolation) and lets users override the
options they may change; ``Preprocessing.descriptor`` is the part of the space's descriptor
that says how features were made.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

import torch

from gan_regularizers.errors import InputTypeError, InvalidOptionError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
RESIZE_MODES = ("bilinear", "bicubic", "area", "nearest", "nearest-exact")
AUTOCAST_DTYPES: dict[str | None, torch.dtype | None] = {
    None: None,
    "float32": None,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
}


@dataclass(frozen=True)
class Preprocessing:
    """The preprocessing of a feature space (checked on construction).

    Attributes:
        resize: side (or ``(height, width)``) images are resized to; ``None`` keeps their size.
        mean, std: per-channel normalisation applied to ``[0, 1]`` pixels.
        resize_mode: interpolation mode of ``torch.nn.functional.interpolate``.
        antialias: antialias when resizing (bilinear and bicubic only; False otherwise).
        input_range: the range of the images callers pass, ``(-1, 1)`` or ``(0, 1)``.
        grayscale: ``"error"`` or ``"repeat"`` (1-channel images repeated to RGB).
        dtype: ``"bfloat16"`` or ``"float16"`` runs the backbone under autocast (a speed
            option: features are float32 and the descriptor does not change).
    """

    resize: int | tuple[int, int] | None = None
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    resize_mode: str = "bilinear"
    antialias: bool = True
    input_range: tuple[float, float] = (-1.0, 1.0)
    grayscale: str = "error"
    dtype: str | None = None

    def __post_init__(self) -> None:
        low, high = (float(v) for v in self.input_range)
        if not high > low:
            raise InvalidOptionError(
                f"input_range must be (low, high) with high > low, got {self.input_range}."
            )
        if self.grayscale not in ("error", "repeat"):
            raise InvalidOptionError(
                f"grayscale must be 'error' or 'repeat', got {self.grayscale!r}."
            )
        if self.resize_mode not in RESIZE_MODES:
            raise InvalidOptionError(
                f"resize_mode must be one of {RESIZE_MODES}, got {self.resize_mode!r}."
            )
        if self.dtype not in AUTOCAST_DTYPES:
            allowed = [k for k in AUTOCAST_DTYPES if k]
            raise InvalidOptionError(f"dtype must be one of {allowed} or None, got {self.dtype!r}.")
        set_ = object.__setattr__  # frozen: normalise the fields once, here
        set_(self, "input_range", (low, high))
        set_(self, "resize", check_resize(self.resize))
        set_(self, "mean", tuple(float(v) for v in self.mean))
        set_(self, "std", tuple(float(v) for v in self.std))
        smooth = self.resize_mode in ("bilinear", "bicubic")
        set_(self, "antialias", bool(self.antialias) and smooth)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(field.name for field in fields(cls))

    @classmethod
    def build(
        cls, defaults: Mapping[str, Any], options: Mapping[str, Any], *, space: str
    ) -> Preprocessing:
        """A backbone's ``defaults`` with the user's ``options`` applied (unknown names refused)."""
        unknown = sorted(set(options) - set(cls.names()))
        if unknown:
            raise InputTypeError(
                f"{space}: unknown option(s) {', '.join(unknown)}; preprocessing options are "
                f"{', '.join(cls.names())}."
            )
        given = {k: v for k, v in options.items() if v is not None or k == "resize"}
        return cls(**{**defaults, **given})

    def updated(self, **changes: Any) -> Preprocessing:
        return replace(self, **changes)

    @property
    def resize_to(self) -> tuple[int, int] | None:
        """``(height, width)`` images are resized to, or ``None`` (no resizing)."""
        if self.resize is None:
            return None
        if isinstance(self.resize, int):
            return (self.resize, self.resize)
        return self.resize

    def descriptor(self) -> dict[str, Any]:
        """What changes the features: size, interpolation, normalisation, range, grayscale."""
        resized = self.resize is not None
        return {
            "input_size": list(self.resize) if isinstance(self.resize, tuple) else self.resize,
            "resize_mode": self.resize_mode if resized else None,
            "antialias": self.antialias if resized else None,
            "normalization": {
                "mean": [round(v, 6) for v in self.mean],
                "std": [round(v, 6) for v in self.std],
            },
            "input_range": list(self.input_range),
            "grayscale": self.grayscale,
        }


def check_resize(
    resize: int | Sequence[int] | None,
) -> int | tuple[int, int] | None:
    """A positive side, a ``(height, width)`` pair (square pairs become one int), or ``None``."""
    if resize is None:
        return None
    if isinstance(resize, (tuple, list)) and len(resize) == 2:
        height, width = resize
        if all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in resize):
            return height if height == width else (height, width)
    elif isinstance(resize, int) and not isinstance(resize, bool) and resize > 0:
        return resize
    raise InvalidOptionError(
        f"input size must be a positive integer, a (height, width) pair or None, got {resize!r}."
    )
