"""The ``vgg16`` feature space: torchvision's VGG-16 cut at a graph node, the paper's φ.

``φ(x) = flatten(pool(node(normalise(x))))`` where ``node`` is a torchvision graph node name
(``torchvision.models.feature_extraction``). The default ``features.16`` is the output after layer
index 16 (pool3): ``256×8×8`` at the paper's 64×64 input, flattened to 16,384 dimensions.
``pooling="avg"`` averages over space instead (256 dimensions). Images are not resized unless
``resize=`` is given (e.g. ``resize=224``, the size VGG-16 was trained at).

Only the layers up to the chosen node are built and kept: the network is traced on the ``meta``
device and materialised afterwards, so the 120M-parameter classifier is never allocated.
"""

from __future__ import annotations

import difflib
import os
from typing import Any

import torch
from torch import nn

from gan_regularizers.features.base import FeatureSpace
from gan_regularizers.features.preprocessing import IMAGENET_MEAN, IMAGENET_STD, Preprocessing
from gan_regularizers.features.weights import (
    ResolvedWeights,
    file_sha256,
    hub_file,
    load_matching,
    load_state_dict_file,
    resolve_weights,
)
from gan_regularizers.plugin_system.hookspecs import Register, hookimpl

DEFAULT_LAYER = "features.16"
POOLINGS = ("none", "avg")
PRETRAINED_TAG = "IMAGENET1K_V1"


def _build_extractor(layer: str) -> nn.Module:
    """VGG-16 from its input to graph node ``layer``, on the CPU, with uninitialised weights."""
    from torchvision.models import vgg16
    from torchvision.models.feature_extraction import (
        create_feature_extractor,
        get_graph_node_names,
    )

    with torch.device("meta"):
        full = vgg16(weights=None)
    _, nodes = get_graph_node_names(full)
    if layer not in nodes or layer == "x":
        close = difflib.get_close_matches(layer, nodes, n=3)
        hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
        raise ValueError(
            f"vgg16 has no graph node {layer!r}.{hint} Use a torchvision graph node name such as "
            f"{DEFAULT_LAYER!r} (pool3, the paper's layer), 'features.15' (relu3_3) or "
            f"'features.30' (pool5); all: {', '.join(nodes[1:])}."
        )
    extractor = create_feature_extractor(full, return_nodes={layer: "features"})
    return extractor.to_empty(device="cpu")


def _random_init(module: nn.Module) -> None:
    """torchvision's VGG initialisation: He-normal (fan_out) convolutions, N(0, 0.01) linears."""
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d):
            nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(layer, nn.Linear):
            nn.init.normal_(layer.weight, 0.0, 0.01)
        else:
            continue
        if layer.bias is not None:
            nn.init.zeros_(layer.bias)


def _torchvision_weights() -> ResolvedWeights:
    """ImageNet weights from torch hub's cache (downloaded there when online), read weights-only.

    torchvision's ``VGG16_Weights.get_state_dict`` would unpickle the cached file with
    ``weights_only=False``; here it is read with ``weights_only=True``, so no code in it runs,
    whoever put it there.
    """
    from torchvision.models import VGG16_Weights

    weights = VGG16_Weights[PRETRAINED_TAG]
    name = os.path.basename(weights.url)
    cached = hub_file(
        weights.url,
        backbone=f"the 'vgg16' feature space (torchvision VGG16_Weights.{PRETRAINED_TAG})",
        example=f"get_feature_space('vgg16', weights='{name}')",
        spec=f"centroid:feature_space=vgg16,weights={name}",
    )
    state = load_state_dict_file(cached)  # weights_only=True: no code runs from the cache
    return ResolvedWeights(
        PRETRAINED_TAG, file_sha256(cached), state, f"VGG16_Weights.{PRETRAINED_TAG}", cached
    )


class VGG16FeatureSpace(FeatureSpace):
    """Frozen torchvision VGG-16 features at graph node ``layer``.

    Args:
        layer: torchvision graph node name (``"features.16"``: pool3, the paper's layer).
        pooling: ``"none"`` flattens ``C×H×W``; ``"avg"`` averages over ``H×W`` (``C`` dims).
        pretrained: ImageNet weights (``IMAGENET1K_V1``) from torchvision's cache or download;
            ``False`` initialises randomly (with a warning).
        weights: path of a local state dict file (e.g. torchvision's ``vgg16-397923af.pth``);
            takes precedence over ``pretrained``.
        **preprocessing: ``Preprocessing`` options:
            ``resize`` (a side, e.g. ``224``; default ``None`` keeps the size), ``resize_mode``,
            ``antialias``, ``input_range``, ``grayscale``, ``dtype``.
    """

    name = "vgg16"

    def __init__(
        self,
        *,
        layer: str = DEFAULT_LAYER,
        pooling: str = "none",
        pretrained: bool = True,
        weights: str | os.PathLike[str] | None = None,
        **preprocessing: Any,
    ) -> None:
        if pooling not in POOLINGS:
            raise ValueError(f"vgg16: pooling must be one of {POOLINGS}, got {pooling!r}.")
        defaults = {"resize": None, "mean": IMAGENET_MEAN, "std": IMAGENET_STD}
        super().__init__(Preprocessing.build(defaults, preprocessing, space=self.name))
        self.layer = layer
        self.pooling = pooling
        self.backbone = _build_extractor(layer)
        pools = sum(isinstance(m, nn.MaxPool2d) for m in self.backbone.modules())
        self.min_image_size = 2**pools  # each 2×2 max pool halves the side
        resolved = resolve_weights(
            self.name, weights=weights, pretrained=pretrained, fetch_pretrained=_torchvision_weights
        )
        if resolved.state is None:
            _random_init(self.backbone)
        else:
            load_matching(
                self.backbone,
                resolved.state,
                backbone=f"vgg16 up to {layer!r}",
                source=resolved.source,
            )
        self.weights_tag, self.weights_sha256 = resolved.tag, resolved.sha256
        self.freeze()

    def embed(self, pixels: torch.Tensor) -> torch.Tensor:
        """``B×3×H×W`` normalised pixels → node output, averaged over space with ``"avg"``."""
        features = self.backbone(pixels)["features"]
        if self.pooling == "avg":
            if features.dim() != 4:
                raise ValueError(
                    f"vgg16: pooling='avg' needs a spatial layer (B×C×H×W), but {self.layer!r} "
                    f"gives shape {tuple(features.shape)}. Use pooling='none' for this layer."
                )
            features = features.mean(dim=(2, 3))
        return features

    def backbone_descriptor(self) -> dict[str, Any]:
        """Backbone, weights tag and sha256, layer, pooling, torchvision version."""
        import torchvision

        return {
            "feature_space": self.name,
            "backbone": "vgg16",
            "library": "torchvision",
            "torchvision": torchvision.__version__.split("+")[0],
            "weights": self.weights_tag,
            "weights_sha256": self.weights_sha256,
            "layer": self.layer,
            "pooling": self.pooling,
        }


@hookimpl
def register_feature_spaces(register: Register) -> None:
    register("vgg16", VGG16FeatureSpace)
