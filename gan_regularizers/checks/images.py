"""Validate image batches before they reach a network, with errors that say what to do."""

from __future__ import annotations

import math

import torch

from gan_regularizers.errors import InputTypeError, InputValueError

DEFAULT_TOLERANCE = 0.01


def check_images(
    images: torch.Tensor,
    *,
    input_range: tuple[float, float] = (-1.0, 1.0),
    grayscale: str = "error",
    tolerance: float = DEFAULT_TOLERANCE,
    where: str = "images",
    any_channels: bool = False,
) -> torch.Tensor:
    """Check a float ``B×C×H×W`` batch and return it as ``B×3×H×W`` (``any_channels``: ``B×C×H×W``).

    Args:
        images: the batch.
        input_range: the declared range of pixel values, ``(-1, 1)`` (a generator's tanh) or
            ``(0, 1)``.
        grayscale: ``"error"`` refuses 1-channel images; ``"repeat"`` repeats them to RGB.
        tolerance: how far (absolute) values may stray outside ``input_range``.
        where: what the batch is, for the messages (``"fake images"``, ``"the 'vgg16' input"``).
        any_channels: accept any channel count, returned as it is (a space with no RGB network,
            ``pixels``, on 2-D points ``B×2×1×1``); 1 channel still follows ``grayscale``.

    Raises:
        TypeError: not a tensor, or an integer dtype.
        ValueError: wrong rank or channel count, NaN/Inf, or values outside the declared range.
    """
    _check_kind(images, input_range, where)
    images = _check_layout(images, grayscale, where, any_channels)
    _check_values(images, input_range, tolerance, where)
    return images


def check_float_images(
    images: torch.Tensor, where: str, input_range: tuple[float, float] = (-1.0, 1.0)
) -> None:
    """Raise ``InputTypeError`` for anything but a floating tensor with data (uint8 pixels
    get the conversion to ``input_range`` in the message); values are not inspected."""
    _check_kind(images, input_range, where)


def _check_kind(images: torch.Tensor, input_range: tuple[float, float], where: str) -> None:
    """A floating-point tensor on a device with data."""
    low, high = input_range
    if not isinstance(images, torch.Tensor):
        raise InputTypeError(
            f"{where} must be a torch.Tensor B×C×H×W, got {type(images).__name__}."
        )
    if not images.is_floating_point():
        hint = (
            "images.float() / 127.5 - 1" if (low, high) == (-1.0, 1.0) else "images.float() / 255"
        )
        kind = (
            "complex"
            if images.is_complex()
            else ("boolean" if images.dtype == torch.bool else "integer")
        )
        raise InputTypeError(
            f"{where} have {kind} dtype {images.dtype}; expected floats in [{low:g}, {high:g}]. "
            f"Convert and scale them first, e.g. {hint}."
        )
    check_not_meta(images, where)


def _check_layout(
    images: torch.Tensor, grayscale: str, where: str, any_channels: bool = False
) -> torch.Tensor:
    """Rank 4 and 3 channels (1 repeated with ``grayscale="repeat"``; any with
    ``any_channels``); returns ``B×3×H×W`` (``B×C×H×W`` with ``any_channels``)."""
    if images.dim() == 3 and images.shape[0] not in (1, 3):
        raise InputValueError(
            f"{where} have shape {tuple(images.shape)} (rank 3): the channel dimension is "
            f"missing. This looks like a batch of {images.shape[0]} grayscale images "
            f"{images.shape[1]}×{images.shape[2]} (N×H×W); add the channel with "
            "images.unsqueeze(1) to get B×1×H×W."
        )
    if images.dim() != 4:
        fix = {
            3: " Add the batch dimension with images.unsqueeze(0).",
            5: " Merge the extra dimension into the batch with images.flatten(0, 1).",
        }.get(images.dim(), "")
        raise InputValueError(
            f"{where} have shape {tuple(images.shape)} (rank {images.dim()}); expected rank 4, "
            f"B×C×H×W.{fix}"
        )
    channels = images.shape[1]
    if channels == 1:
        if grayscale != "repeat":
            raise InputValueError(
                f"{where} have 1 channel but this network expects RGB (3 channels). Pass "
                "grayscale='repeat' to repeat the channel, or convert the images to RGB."
            )
        images = images.expand(-1, 3, -1, -1)
    elif any_channels and channels > 4 and images.shape[2] > 4 and images.shape[-1] in (1, 3, 4):
        raise InputValueError(  # B×H×W×C would flatten to the same size in another order
            f"{where} have shape {tuple(images.shape)}: {channels} channels of "
            f"{images.shape[2]}×{images.shape[3]} looks channels-last (B×H×W×C), whose pixels "
            "would be compared in another order than B×C×H×W images'. Use "
            "images.permute(0, 3, 1, 2)."
        )
    elif channels != 3 and not any_channels:
        layout = (
            " It looks channels-last (B×H×W×C): use images.permute(0, 3, 1, 2)."
            if images.shape[-1] in (1, 3, 4)
            else ""
        )
        drop = " For RGBA, drop alpha with images[:, :3]." if channels == 4 else ""
        missing = (
            f" If these are {channels} grayscale images H×W that lost their channel dimension "
            "(N×H×W read as one image), the channel dimension is missing: use "
            "images.unsqueeze(1)."
            if images.shape[0] == 1 and channels > 4
            else ""
        )
        raise InputValueError(
            f"{where} have {channels} channels (shape {tuple(images.shape)}); expected 3 (RGB) "
            f"or 1 with grayscale='repeat'.{layout}{drop}{missing}"
        )
    if images.numel() == 0:
        raise InputValueError(f"{where} are empty (shape {tuple(images.shape)}).")
    return images


def _check_values(
    images: torch.Tensor, input_range: tuple[float, float], tolerance: float, where: str
) -> None:
    """No NaN or Inf, and values within ``input_range`` ± ``tolerance``."""
    low, high = input_range
    observed_min, observed_max = (float(v) for v in torch.aminmax(images.detach().float()))
    if math.isnan(observed_min) or math.isnan(observed_max):
        count = int(torch.isnan(images.detach()).sum())
        raise InputValueError(
            f"{where} contain {count} NaN value(s); check the generator's output and loss "
            "(a NaN loss or a too-high learning rate)."
        )
    if math.isinf(observed_min) or math.isinf(observed_max):
        count = int(torch.isinf(images.detach()).sum())
        raise InputValueError(
            f"{where} contain {count} infinite value(s); check the generator's output."
        )
    if observed_min < low - tolerance or observed_max > high + tolerance:
        if observed_max > 2.0 and high <= 1.0:
            advice = "They look like [0, 255] pixels: scale them (x / 127.5 - 1 for [-1, 1])."
        elif (low, high) == (-1.0, 1.0):
            advice = "End the generator with tanh, or clamp to [-1, 1]."
        else:
            advice = "Pass input_range=(-1, 1) if the images come from a tanh generator."
        raise InputValueError(
            f"{where} range over [{observed_min:.4g}, {observed_max:.4g}], outside the declared "
            f"input range [{low:g}, {high:g}] (tolerance {tolerance:g}). {advice}"
        )


def check_not_meta(images: torch.Tensor, where: str = "images") -> None:
    """Refuse tensors on the ``meta`` device: they have a shape but no values to check or embed."""
    if images.device.type == "meta":
        raise InputTypeError(
            f"{where} are on the 'meta' device (a shape without data, e.g. from a model built "
            "under torch.device('meta')); real pixel values are needed. Create or move the "
            "images on 'cpu' or 'cuda', e.g. generator.to_empty(device='cpu') before sampling."
        )


def check_min_size(images: torch.Tensor, minimum: int, where: str, fix: str) -> None:
    """Refuse images smaller than ``minimum`` pixels on a side, before a network fails inside."""
    height, width = int(images.shape[-2]), int(images.shape[-1])
    if min(height, width) < minimum:
        raise InputValueError(
            f"{where} are {height}×{width}, smaller than the {minimum}×{minimum} the network "
            f"needs (its pooling would shrink them to nothing). {fix}"
        )


def warn_if_zero_one(minimum: float, declared: tuple[float, float], where: str) -> None:
    """Warn when a whole real image set declared in ``[-1, 1]`` has no negative value.

    Every value ≥ 0 over a whole data set is the mark of ``[0, 1]`` pixels (``ToTensor()``)
    given where ``[-1, 1]`` is expected: the statistics would then not match a tanh generator.
    """
    import warnings

    from gan_regularizers.errors import InputRangeWarning

    if tuple(float(v) for v in declared) == (-1.0, 1.0) and minimum >= 0.0:
        warnings.warn(
            f"{where}: every real image value is ≥ 0 (smallest {minimum:.4g}) although images "
            "are declared in [-1, 1]: they look like [0, 1] pixels (e.g. from ToTensor()). "
            "Scale them with x * 2 - 1, or the statistics will not match the generator's range.",
            InputRangeWarning,
            stacklevel=3,
        )
