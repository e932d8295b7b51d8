"""The ``inception`` feature space: torch-fidelity's TF-compatible Inception-v3 (2048-d pool3).

This is the standard FID network: images in ``[-1, 1]`` are quantised to uint8 (round, then
clamp, like saved PNGs), resized to 299×299 with TensorFlow-1-compatible bilinear interpolation
and embedded by the Inception-v3 weights converted from the 2015 TensorFlow graph. ``fid`` is
the Fréchet distance in this space.

Weights come from the torch hub cache (downloaded there when online) or a local file
(``weights=``); offline without either, a ``
WeightsUnavailableError`` names both within seconds. Either file is read with
``torch.load(weights_only=True)``: a weights file cannot run code. The space quantises images, so
it is not differentiable (``differentiable = False``): use it for FID, not for the centroid.
"""

from __future__ import annotations

import io
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
        pretrained: ``False`` builds the same network with random weights (seeded: the same
            network every time, with a warning), for controls and tests; no file is read.
    """

    name = "inception"
    differentiable = False  # images are quantised to uint8 first

    def __init__(
        self,
        weights: str | Path | None = None,
        input_range: tuple[float, float] = (-1.0, 1.0),
        grayscale: str = "repeat",
        pretrained: bool = True,
    ) -> None:
        super().__init__()
        from gan_regularizers.errors import InvalidOptionError
        from gan_regularizers.features.weights import file_sha256, warn_random_weights
        from gan_regularizers.optional_imports import import_optional

        fidelity = import_optional("torch_fidelity", "metrics", "The 'inception' space (FID)")
        if not isinstance(pretrained, bool):
            raise InvalidOptionError(
                f"inception: pretrained must be true or false, got {pretrained!r}."
            )
        if weights is not None and not pretrained:
            raise InvalidOptionError(
                f"inception: weights={str(weights)!r} and pretrained=False contradict each other; "
                "pass one of them."
            )
        path = _weights_path(weights) if pretrained else None
        if path is None:
            warn_random_weights(self.name)
        self.extractor = _extractor(path) if path is not None else _random_extractor()
        self.input_range = input_range
        self.grayscale = grayscale
        self._descriptor = {
            "feature_space": self.name,
            "backbone": "inception-v3-compat",
            "library": "torch_fidelity",
            "torch_fidelity": getattr(fidelity, "__version__", "unknown"),
            "weights": "file" if weights is not None else (path.name if path else "random"),
            "weights_sha256": file_sha256(path) if path else None,
            "layer": "pool3 (2048)",
            "pooling": "avg",
            "input_size": 299,
            "resize_mode": "bilinear, TensorFlow 1.x compatible",
            "antialias": False,
            "quantisation": "round and clamp to uint8",
            "input_range": list(input_range),
            "grayscale": grayscale,
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


def _weights_path(weights: str | Path | None) -> Path:
    """The weights file: ``weights=``, else the torch hub cache (downloaded there when online)."""
    from gan_regularizers.features.weights import WeightsFileError, check_fetchable

    if weights is not None:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise WeightsFileError(
                f"weights={str(weights)!r}: no such Inception weights file. Pass the path of "
                f"torch-fidelity's {INCEPTION_URL.rsplit('/', 1)[1]}, or leave weights unset "
                "to use the torch hub cache."
            )
        return path
    path = inception_cache_file()
    if not path.is_file():
        check_fetchable(
            INCEPTION_URL,
            backbone="inception (torch-fidelity's TF-compatible Inception-v3)",
            expected=path,
            extra="metrics",
            example="get_feature_space('inception', weights='FILE')",
            spec="fid:weights=FILE (or feature_space=inception,weights=FILE)",
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(INCEPTION_URL, str(path), progress=False)
    return path


def _extractor(path: Path) -> nn.Module:
    """torch-fidelity's extractor filled from ``path`` read with ``weights_only=True``.

    torch-fidelity itself unpickles its file with ``weights_only=False`` (code in the file would
    run). Here the file is read by
    ``load_state_dict_file`` (tensors only), and the
    extractor receives an in-memory copy holding nothing but those tensors.
    """
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    from gan_regularizers.features.weights import load_state_dict_file

    state = load_state_dict_file(path)
    tensors_only = io.BytesIO()
    torch.save(state, tensors_only)
    tensors_only.seek(0)
    return FeatureExtractorInceptionV3(
        "inception-v3-compat", ["2048"], feature_extractor_weights_path=tensors_only
    )


def _random_extractor() -> nn.Module:
    """torch-fidelity's Inception-v3 with its own random initialisation (seeded), no file."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    from gan_regularizers.features.weights import seeded_init

    class RandomInceptionV3(FeatureExtractorInceptionV3):
        def load_state_dict(self, *args: Any, **kwargs: Any) -> Any:
            return None  # keep the (seeded) random initialisation

    empty = io.BytesIO()
    torch.save({}, empty)  # our own empty dict: torch-fidelity reads it and loads nothing
    empty.seek(0)
    with seeded_init():
        return RandomInceptionV3(
            "inception-v3-compat", ["2048"], feature_extractor_weights_path=empty
        )


@hookimpl
def register_feature_spaces(register: Register) -> None:
    register("inception", InceptionFeatures)
