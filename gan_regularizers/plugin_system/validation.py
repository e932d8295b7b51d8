"""Check what a plugin's factory built against its contract, when it is built.

A loss without ``generator_loss`` or a regularizer with ``side = "both"`` is reported by
``get_loss``/``get_regularizer`` with the plugin named, not at the first training step.
"""

from __future__ import annotations

from typing import Any

from gan_regularizers.errors import GanRegularizersError, PluginContractError
from gan_regularizers.plugin_system.contracts import regularizer_side

LOSS_METHODS = ("discriminator_loss", "generator_loss")


def _fail(kind: str, name: str, origin: str, built: Any, problem: str) -> PluginContractError:
    return PluginContractError(
        f"The {kind} {name!r} from {origin} built a {type(built).__name__} that {problem}. "
        "Fix the plugin (the contracts are in docs/plugins.md) or uninstall it."
    )


def _validate_loss(name: str, origin: str, built: Any) -> None:
    missing = [m for m in LOSS_METHODS if not callable(getattr(built, m, None))]
    if missing:
        raise _fail(
            "loss",
            name,
            origin,
            built,
            f"has no {' and no '.join(missing)} method; a loss needs "
            "discriminator_loss(real_logits, fake_logits) and "
            "generator_loss(fake_logits, real_logits=None)",
        )


def _validate_regularizer(name: str, origin: str, built: Any) -> None:
    if not callable(built):
        raise _fail("regularizer", name, origin, built, "is not callable (use an nn.Module)")
    try:
        regularizer_side(built)
    except GanRegularizersError as error:
        raise _fail("regularizer", name, origin, built, f"has a bad side: {error}") from None
    if callable(getattr(built, "fit", None)) and not hasattr(built, "fitted"):
        raise _fail(
            "regularizer",
            name,
            origin,
            built,
            "has fit() but no fitted attribute; train calls fit(data) only while fitted is "
            "False, so declare fitted (a bool property)",
        )


def _validate_callable(kind: str, name: str, origin: str, built: Any) -> None:
    if not callable(built):
        raise _fail(kind, name, origin, built, "is not callable (use an nn.Module)")


def _validate_architecture(name: str, origin: str, built: Any) -> None:
    from torch import nn

    pair = isinstance(built, (tuple, list)) and len(built) == 2
    if not pair or not all(isinstance(m, nn.Module) for m in built):
        raise _fail(
            "architecture", name, origin, built,
            "is not a (generator, discriminator) pair of torch.nn.Module",
        )  # fmt: skip
    z_dim = getattr(built[0], "z_dim", None)
    if isinstance(z_dim, bool) or not isinstance(z_dim, int):
        raise _fail(
            "architecture", name, origin, built,
            f"has a generator without an int z_dim attribute (got {z_dim!r}); the loop draws "
            "latents of shape (B, generator.z_dim)",
        )  # fmt: skip


def validate_built(kind: str, name: str, origin: str, built: Any) -> None:
    """Raise ``PluginContractError`` when ``built`` breaks the contract of ``kind``."""
    if kind == "loss":
        _validate_loss(name, origin, built)
    elif kind == "regularizer":
        _validate_regularizer(name, origin, built)
    elif kind == "architecture":
        _validate_architecture(name, origin, built)
    elif kind in ("augmentation", "feature space"):
        _validate_callable(kind, name, origin, built)
