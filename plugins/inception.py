"""The ``inception`` feature space: torch-fidelity's TF-compatible Inception-v3 (2048-d pool3).

This is the standard FID network: images in ``[-1, 1]`` are quantised to uint8 (round, then
clamp, like saved PNGs), resized to 299×299 with TensorFlow-1-compatible bilinear interpolation
and embedded by the Inception-v3 weights converted from the 2015 TensorFlow graph. ``fid`` is
the Fréchet distance in this space.

Weights come from the torch hub cache (fetched there by torch-fidelity when online) or a local
file (``weights=``); offline without either, a :class:`~gan_regularizers.features.weights.
WeightsUnavailableError` names both within seconds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from gan_regularizers.plugin_system.hookspecs import Register, hookimpl

INCEPTION_URL = (
    "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
    "weights-inception-2015-12-05-6726825d.pth"
)


def inception_cache_file() -> Path:
    """Where torch-fidelity's download lands: the torch hub checkpoints folder."""
    return Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_URL.rsplit("/", 1)[1]


class InceptionFeatures(nn.Module):
    """``B×3×H×W`` images in ``input_range`` → ``B×2048`` float32 Inception pool3 features.

    Args:
        weights: a local torch-fidelity Inception weights file; default: the torch hub cache.
        input_range: the images' range, ``(-1, 1)`` or ``(0, 1)``.
        grayscale: ``"repeat"`` (default) repeats 1-channel images to RGB; ``"error"`` refuses.
    """

    name = "inception"
    differentiable = False  # images are quantised to uint8 first

    def __init__(
        self,
        weights: str | Path | None = None,
        input_range: tuple[float, float] = (-1.0, 1.0),
        grayscale: str = "repeat",
    ) -> None:
        super().__init__()
        from gan_regularizers.features.weights import check_fetchable, file_sha256
        from gan_regularizers.optional_imports import import_optional

        fidelity = import_optional("torch_fidelity", "metrics", "The 'inception' space (FID)")
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

        path: Path | None = Path(weights) if weights is not None else inception_cache_file()
        if weights is not None and not path.is_file():
            raise FileNotFoundError(f"Inception weights file {path} does not exist.")
        if weights is None and not path.is_file():
            check_fetchable(
                INCEPTION_URL,
                backbone="inception (torch-fidelity's TF-compatible Inception-v3)",
                expected=path,
                extra="metrics",
                example="gan-regularizers eval RUN --inception-weights FILE",
            )
            path = None  # online: torch-fidelity downloads it into the cache
        self.extractor = FeatureExtractorInceptionV3(
            "inception-v3-compat", ["2048"], feature_extractor_weights_path=path and str(path)
        )
        loaded = path or inception_cache_file()
        self.input_range = input_range
        self.grayscale = grayscale
        self._descriptor = {
            "backbone": "inception-v3-compat (torch-fidelity)",
            "weights_file": loaded.name,
            "weights_sha256": file_sha256(loaded),
            "layer": "pool3 (2048)",
            "pooling": "avg",
            "input_size": 299,
            "resize_mode": "bilinear, TensorFlow 1.x compatible",
            "quantisation": "round and clamp to uint8",
            "input_range": list(input_range),
            "grayscale": grayscale,
            "torch_fidelity": getattr(fidelity, "__version__", "unknown"),
        }

    @property
    def descriptor(self) -> dict[str, Any]:
        return dict(self._descriptor)

    def train(self, mode: bool = True) -> InceptionFeatures:
        return super().train(False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        from gan_regularizers.checks.quantize import to_uint8

        quantised = to_uint8(images, self.input_range, self.grayscale)
        (features,) = self.extractor(quantised)
        return features.float()


@hookimpl
def register_feature_spaces(register: Register) -> None:
    register("inception", InceptionFeatures)
