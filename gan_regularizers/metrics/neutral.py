"""Which Fréchet distance ``compare`` adds as the neutral metric, and whether FD-DINOv2 can run.

FD-DINOv2 (Stein et al. 2023; EDM2) is the default wherever its weights are available without a
download: a ``weights=`` file given, or timm's DINOv2 ViT-L/14 in the Hugging Face or torch hub
cache. Otherwise the dataset's declared ``neutral_metric`` (``fd:mnist-evaluator`` for mnist5k),
else Inception ``fid``, and the reason is reported. Inception ``fid`` stays beside FD-DINOv2 as
the legacy number.
"""

from __future__ import annotations

import os
from pathlib import Path

DINOV2_CACHE_PATTERN = "models--timm--vit_large_patch14_dinov2*"


def _hub_caches() -> list[Path]:
    home = Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface"))
    caches = [Path(os.environ["HF_HUB_CACHE"])] if "HF_HUB_CACHE" in os.environ else []
    torch_home = Path(os.environ.get("TORCH_HOME", Path.home() / ".cache" / "torch"))
    return [*caches, home / "hub", torch_home / "hub" / "checkpoints"]


def dinov2_availability(weights: str | None = None) -> tuple[bool, str]:
    """``(available, reason)`` for ``fd-dinov2``, checked without downloading anything."""
    from gan_regularizers.plugin_system.registry import list_feature_spaces

    if "dinov2" not in list_feature_spaces():
        return False, "no feature space 'dinov2' is registered"
    if weights is not None:
        if Path(weights).is_file():
            return True, f"weights file {weights}"
        return False, f"weights file {weights} does not exist"
    for cache in _hub_caches():
        if cache.is_dir() and (
            any(cache.glob(DINOV2_CACHE_PATTERN)) or any(cache.glob("*dinov2*"))
        ):
            return True, f"DINOv2 weights cached in {cache}"
    return False, (
        "DINOv2 ViT-L/14 weights are not in the timm/Hugging Face cache; pass "
        "--metrics fd-dinov2:weights=PATH to use a local file"
    )


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
