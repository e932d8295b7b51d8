"""The ``pixels`` feature space: the image itself, flattened.

``φ(x) = vec(x)`` for images in ``[-1, 1]``: ``B×C×H×W → B×(C·H·W)`` float32, 1-channel images
repeated to 3 channels first (as every space reads them) and any other channel count flattened as
it is (2-D points, ``B×2×1×1 → B×2``: the identity space of the mixtures study). No network, so no
knowledge is borrowed from anywhere: the space for pixel-space precision/recall on small images
(``precision-recall:space=pixels``), where uniform noise has precision and recall 0 against real
digits. Differentiable (the identity).
"""

from __future__ import annotations

from typing import Any, ClassVar

from gan_regularizers.plugin_system.hookspecs import Register, hookimpl


def _pixels() -> Any:
    import torch
    from torch import nn

    from gan_regularizers import __version__
    from gan_regularizers.checks.images import check_images

    class Pixels(nn.Module):
        """``B×C×H×W`` images in ``[-1, 1]`` → ``B×(C·H·W)`` float32 (no weights)."""

        differentiable = True
        descriptor: ClassVar[dict[str, Any]] = {
                      "feature_space": "pixels", "backbone": "identity",
                      "library": "gan_regularizers", "gan_regularizers": __version__,
                      "weights": None,
                      "weights_sha256": None, "layer": "input", "pooling": "flatten",
                      "input_range": [-1.0, 1.0]}  # fmt: skip

        def train(self, mode: bool = True) -> Pixels:
            """Always in eval mode, like every feature space."""
            return super().train(False)

        def forward(self, images: torch.Tensor) -> torch.Tensor:
            checked = check_images(images, input_range=(-1.0, 1.0), grayscale="repeat",
                                   where="the input of the 'pixels' feature space",
                                   any_channels=True)  # fmt: skip
            return checked.float().flatten(1)

    return Pixels().eval()


@hookimpl
def register_feature_spaces(register: Register) -> None:
    register("pixels", _pixels)
