"""Which Fréchet distance ``compare`` adds as the neutral metric, and whether FD-DINOv2 can run.

FD-DINOv2 (Stein et al. 2023; EDM2) is the default wherever its weights are available without a
download. This module does not know where any backbone keeps its weights: it asks the feature
space registered as ``dinov2`` (its factory's ``weights_available(weights=None) -> (bool,
reason)``, as the built-in plugin has). Otherwise the dataset's declared ``neutral_metric``
(``fd:mnist-evaluator`` for mnist5k), else Inception ``fid``, and the reason is reported.
Inception ``fid`` stays beside FD-DINOv2 as the legacy number.
"""

from __future__ import annotations

NEUTRAL_SPACE = "dinov2"


def dinov2_availability(weights: str | None = None) -> tuple[bool, str]:
    """``(available, reason)`` for ``fd-dinov2``, asked of the ``dinov2`` plugin (no download)."""
    from gan_regularizers.plugin_system.registry import collect

    registration = collect("feature space").get(NEUTRAL_SPACE)
    if registration is None:
        return False, f"no feature space {NEUTRAL_SPACE!r} is registered"
    ask = getattr(registration.factory, "weights_available", None)
    if ask is None:
        return False, f"the {NEUTRAL_SPACE!r} feature space cannot say whether its weights are here"
    available, reason = ask(weights)
    return bool(available), str(reason)


def neutral_metrics(
    dataset: object = None, dinov2_weights: str | None = None
) -> tuple[list[str], str]:
    """The metrics ``compare`` adds when none is in a space free of the runs' regularizers."""
    available, reason = dinov2_availability(dinov2_weights)
    if available:
        spec = f"fd-dinov2:weights={dinov2_weights}" if dinov2_weights else "fd-dinov2"
        return [spec, "fid"], f"fd-dinov2 added as the neutral metric ({reason}); fid is legacy"
    fallback = str(getattr(dataset, "neutral_metric", "fid"))
    return [fallback], f"fd-dinov2 unavailable ({reason}); {fallback} added as the neutral metric"
