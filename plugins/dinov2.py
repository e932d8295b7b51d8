"""The ``dinov2`` feature space: DINOv2 ViT-L/14 under the FD-DINOv2 protocol (``[dino]`` extra).

The protocol of Stein et al. (2023, "Exposing flaws of generative model evaluation metrics",
dgm-eval) used by EDM2's FD-DINOv2:

1. images in ``[-1, 1]`` → ``[0, 1]``;
2. resize to 224×224, bicubic, antialiased;
3. normalise with the ImageNet mean and std;
4. ``φ(x)`` = the class-token embedding after the final norm of timm's
   ``vit_large_patch14_dinov2.lvd142m`` (1024-d), the patch-position embedding resampled from 518
   to 224 (16×16 patches of 14 pixels).

Nothing but ``model``, the weights and the input range may change: the protocol fixes the rest,
and the descriptor records it. Offline, ``weights=`` loads a local file (a timm
``model.safetensors``, or the original DINOv2 checkpoint timm converts); without it and without a
cached file, a ``WeightsUnavailableError`` says where the
file is expected. ``pretrained=False`` builds random weights (for tests).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from gan_regularizers.features.base import IMAGENET_MEAN, IMAGENET_STD
from gan_regularizers.plugin_system.hookspecs import Register, hookimpl
from gan_regularizers.plugins.timm_models import TimmFeatureSpace

DEFAULT_MODEL = "vit_large_patch14_dinov2.lvd142m"
CACHE_PATTERNS = ("models--timm--vit_large_patch14_dinov2*", "*dinov2*")
RESIZE = 224
PROTOCOL = "Stein et al. 2023 (dgm-eval), as EDM2's FD-DINOv2"


class DinoV2FeatureSpace(TimmFeatureSpace):
    """Frozen DINOv2 class-token embeddings with the FD-DINOv2 preprocessing.

    Args:
        model: timm model name (default ``vit_large_patch14_dinov2.lvd142m``; a smaller ViT
            only for tests and experiments, the protocol is defined for the default).
        pretrained: the name's weights through timm's cache; ``False`` initialises randomly.
        weights: path of a local weights file; takes precedence over ``pretrained``.
        input_range, grayscale, dtype: see ``FeatureSpace``.
    """

    name = "dinov2"
    default_model = DEFAULT_MODEL

    def __init__(
        self,
        *,
        model: str | None = None,
        pretrained: bool = True,
        weights: str | os.PathLike[str] | None = None,
        input_range: tuple[float, float] = (-1.0, 1.0),
        grayscale: str = "error",
        dtype: str | None = None,
    ) -> None:
        super().__init__(
            model=model,
            pretrained=pretrained,
            weights=weights,
            pooling="token",
            input_size=RESIZE,
            resize_mode="bicubic",
            antialias=True,
            mean=IMAGENET_MEAN,
            std=IMAGENET_STD,
            input_range=input_range,
            grayscale=grayscale,
            dtype=dtype,
        )

    @staticmethod
    def weights_available(weights: str | os.PathLike[str] | None = None) -> tuple[bool, str]:
        """``(available, where or why not)`` for the default weights, without downloading.

        A ``weights`` file given, or timm's DINOv2 ViT-L/14 in the Hugging Face or torch hub
        cache (``HF_HUB_CACHE``, ``HF_HOME``, ``TORCH_HOME``).
        """
        if weights is not None:
            found = Path(weights).is_file()
            return found, f"weights file {weights}" + ("" if found else " does not exist")
        for cache in _hub_caches():
            if cache.is_dir() and any(any(cache.glob(p)) for p in CACHE_PATTERNS):
                return True, f"DINOv2 weights cached in {cache}"
        return False, (
            "DINOv2 ViT-L/14 weights are not in the timm/Hugging Face cache; pass "
            "--metrics fd-dinov2:weights=PATH to use a local file"
        )

    def backbone_descriptor(self) -> dict[str, Any]:
        """The timm descriptor with the protocol named and the layer spelled out."""
        return {**super().backbone_descriptor(), "layer": "cls_token", "protocol": PROTOCOL}


def _hub_caches() -> list[Path]:
    home = Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface"))
    caches = [Path(os.environ["HF_HUB_CACHE"])] if "HF_HUB_CACHE" in os.environ else []
    torch_home = Path(os.environ.get("TORCH_HOME", Path.home() / ".cache" / "torch"))
    return [*caches, home / "hub", torch_home / "hub" / "checkpoints"]


@hookimpl
def register_feature_spaces(register: Register) -> None:
    register("dinov2", DinoV2FeatureSpace)
