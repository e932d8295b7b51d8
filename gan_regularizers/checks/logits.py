"""Checks shared by adversarial losses that take discriminator logits.

Every built-in loss (bce, lsgan, hinge, wasserstein, rpgan) runs ``ProbabilityCheck`` on its
first calls, so probabilities passed as logits are reported whatever the loss.
"""

from __future__ import annotations

import warnings

import torch

from gan_regularizers.errors import (
    InvalidLogitsError,
    InvalidLogitsTypeError,
    ProbabilitiesAsLogitsWarning,
)


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
            raise InvalidLogitsTypeError(
                f"{loss}: {label} must be a torch.Tensor of discriminator logits, "
                f"got {type(logits).__name__}."
            )
        if not logits.is_floating_point():
            raise InvalidLogitsTypeError(
                f"{loss}: {label} must be a floating tensor of raw logits, got {logits.dtype}. "
                "Pass the discriminator's output before any sigmoid."
            )
        if logits.dim() == 0 or logits.shape[0] == 0:
            raise InvalidLogitsError(
                f"{loss}: {label} must have a non-empty batch dimension, got shape "
                f"{tuple(logits.shape)}."
            )
    if real_logits is not None and real_logits.shape[1:] != fake_logits.shape[1:]:
        raise InvalidLogitsError(
            f"{loss}: real_logits has shape {tuple(real_logits.shape)} but fake_logits has shape "
            f"{tuple(fake_logits.shape)}; the per-sample shapes (after the batch dimension) must "
            "match. Reshape both to (B,) or both to (B, 1), e.g. with .view(-1)."
        )


def at_least_float32(tensor: torch.Tensor) -> torch.Tensor:
    """Upcast half and bfloat16 to float32 for the reduction; keep float32 and float64."""
    return tensor.to(torch.promote_types(tensor.dtype, torch.float32))


def check_paired(real_logits: torch.Tensor, fake_logits: torch.Tensor, *, loss: str) -> None:
    """Relativistic losses pair ``D(x_i)`` with ``D(x̂_i)``: both batches must have one size."""
    if real_logits.shape != fake_logits.shape:
        raise InvalidLogitsError(
            f"{loss}: pairs real and fake logits one to one, but real_logits has shape "
            f"{tuple(real_logits.shape)} and fake_logits {tuple(fake_logits.shape)}. Draw as many "
            "fake images as real ones in each step (the same batch size)."
        )


def require_real_logits(real_logits: torch.Tensor | None, *, loss: str) -> torch.Tensor:
    """``real_logits``, or a clear error for a relativistic loss's generator step without it."""
    if real_logits is None:
        raise InvalidLogitsError(
            f"{loss}: generator_loss needs the real logits too (a relativistic loss compares "
            "D(x̂) with D(x)). Call generator_loss(fake_logits, real_logits=discriminator(real)); "
            "gan-regularizers' training loop always passes them."
        )
    return real_logits


class ProbabilityCheck:
    """Warn once when the first ``calls`` calls all receive values inside ``[0, 1]``.

    A linear discriminator output at initialisation has both signs in almost every batch; a
    discriminator ending in ``sigmoid`` never does. Only the first ``calls`` calls are inspected
    (each inspection synchronises with the device once), so a healthy run pays nothing afterwards.
    """

    def __init__(self, loss: str, calls: int = 3) -> None:
        self.loss = loss
        self.calls = calls
        self.seen = 0
        self.all_probabilities = True

    def __call__(self, *logits: torch.Tensor | None) -> None:
        """Inspect one call's logits (``None`` entries are skipped)."""
        if self.seen >= self.calls:
            return
        self.seen += 1
        for values in logits:
            if values is None or not self.all_probabilities:
                continue
            detached = values.detach()
            inside = bool((detached.min() >= 0) & (detached.max() <= 1))
            self.all_probabilities = self.all_probabilities and inside
        if self.seen == self.calls and self.all_probabilities:
            warnings.warn(
                f"{self.loss}: every discriminator output in the first {self.calls} calls lies in "
                "[0, 1], as probabilities do. This loss takes raw logits: remove the final "
                "sigmoid from the discriminator (the loss applies it stably itself).",
                ProbabilitiesAsLogitsWarning,
                stacklevel=3,
            )
