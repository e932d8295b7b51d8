"""Checks shared by adversarial losses that take discriminator logits."""

from __future__ import annotations

import torch

from gan_regularizers.errors import InputTypeError, InputValueError


def check_logits(
    fake_logits: torch.Tensor, real_logits: torch.Tensor | None = None, *, loss: str
) -> None:
    """Raise a clear error for inputs that would silently give a wrong loss.

    Real and fake logits must be floating tensors with the same per-sample shape: ``(B,)`` against
    ``(B, 1)`` would otherwise broadcast to a ``B×B`` matrix. Batch sizes may differ.
    """
    named = [("fake_logits", fake_logits)]
    if real_logits is not None:
        named.insert(0, ("real_logits", real_logits))
    for label, logits in named:
        if not isinstance(logits, torch.Tensor):
            raise InputTypeError(
                f"{loss}: {label} must be a torch.Tensor of discriminator logits, "
                f"got {type(logits).__name__}."
            )
        if not logits.is_floating_point():
            raise InputTypeError(
                f"{loss}: {label} must be a floating tensor of raw logits, got {logits.dtype}. "
                "Pass the discriminator's output before any sigmoid."
            )
        if logits.dim() == 0 or logits.shape[0] == 0:
            raise InputValueError(
                f"{loss}: {label} must have a non-empty batch dimension, got shape "
                f"{tuple(logits.shape)}."
            )
    if real_logits is not None and real_logits.shape[1:] != fake_logits.shape[1:]:
        raise InputValueError(
            f"{loss}: real_logits has shape {tuple(real_logits.shape)} but fake_logits has shape "
            f"{tuple(fake_logits.shape)}; the per-sample shapes (after the batch dimension) must "
            "match. Reshape both to (B,) or both to (B, 1), e.g. with .view(-1)."
        )


def at_least_float32(tensor: torch.Tensor) -> torch.Tensor:
    """Upcast half and bfloat16 to float32 for the reduction; keep float32 and float64."""
    return tensor.to(torch.promote_types(tensor.dtype, torch.float32))
