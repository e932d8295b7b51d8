"""The embedded MNIST feature spaces: small networks trained on mnist5k, shipped with the package.

Two names, two different networks (see ``gan_regularizers.models.mnist_networks``):

* ``mnist-features``: the 64-d global-average-pooled embedding of ``mnist-features-cnn``; the
  offline feature space for the centroid regularizer (``feature_space="mnist-features"``).
* ``mnist-classifier``: the 128-d penultimate embedding of ``mnist-classifier-cnn``, a different
  architecture trained with a different seed; for evaluation only (Fréchet distance in its space,
  class predictions for mode coverage via ``MnistFeatureSpace.predict``). Do not regularize
  in the space you evaluate in.

Input: ``B×1×H×W`` or ``B×3×H×W`` in ``input_range`` (default ``[-1, 1]``). Three channels are
averaged to gray, ``(R + G + B) / 3``. 32×32 is used as is; 28×28 (raw MNIST) is padded by 2
pixels of background on each side, exactly as mnist5k was built; any other size is resized to
32×32 with ``resize_mode`` (default bilinear, antialiased). The ``[0, 1]`` pixels are normalised
with mean 0.5 and std 0.5, so the networks see the ``[-1, 1]`` image they were trained on.

The weights are read from package data with ``importlib.resources`` and checked against the
sha256 values below; ``weights=PATH`` loads another file (checked when ``sha256=`` is given), and
``pretrained=False`` builds a randomly initialised network (seed 0) with a warning.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from gan_regularizers.checks.images import check_images
from gan_regularizers.errors import MissingWeightsError, WeightsChecksumError
from gan_regularizers.features.base import FeatureSpace
from gan_regularizers.features.preprocessing import Preprocessing
from gan_regularizers.plugin_system.hookspecs import Register, hookimpl

ASSETS_PACKAGE = "gan_regularizers.assets"
TRAINING_SCRIPT = "scripts/train_mnist_networks.py"
RANDOM_INIT_SEED = 0
RAW_MNIST_SIZE = 28

#: name -> (file in gan_regularizers/assets, sha256), written by scripts/train_mnist_networks.py
SHIPPED_WEIGHTS: dict[str, tuple[str, str]] = {
    "mnist-features": (
        "mnist_features.pt",
        "04a989923b7d8c460fc0fb53d7e156343f430df5a02b46850d8adf628f9a0a9f",
    ),
    "mnist-classifier": (
        "mnist_classifier.pt",
        "3407f15cc6d468fd073c2e583baa2fb3fa9b3e241defc6de226c19b5a31aa6b9",
    ),
    # written by scripts/train_digit_evaluator.py
    "mnist-evaluator": (
        "mnist_evaluator.pt",
        "a776e334b2ad855680be190d5673e4784813693e714b0a03c0f201cd115ff2c4",
    ),
}


def shipped_weights_path(name: str) -> Path:
    """Path of the weights file shipped for the feature space ``name``."""
    filename, _ = SHIPPED_WEIGHTS[name]
    return Path(str(resources.files(ASSETS_PACKAGE).joinpath(filename)))


def load_verified_state_dict(
    path: str | Path, expected_sha256: str | None, *, what: str
) -> tuple[dict[str, torch.Tensor], str]:
    """Read a state_dict from ``path`` after checking its sha256; return it and the sha256.

    Raises:
        MissingWeightsError: the file does not exist.
        WeightsChecksumError: its sha256 differs from ``expected_sha256``.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise MissingWeightsError(
            f"The weights of {what} are missing: {path} does not exist. Reinstall "
            "gan-regularizers (pip install --force-reinstall gan-regularizers), pass "
            f"weights=PATH to a local copy, or retrain them with {TRAINING_SCRIPT}."
        ) from None
    digest = hashlib.sha256(data).hexdigest()
    if expected_sha256 is not None and digest != expected_sha256.lower():
        raise WeightsChecksumError(
            f"The weights file {path} of {what} has sha256 {digest}, expected "
            f"{expected_sha256.lower()}: the file is corrupt, truncated or not the one expected. "
            "Reinstall gan-regularizers to restore the shipped file, or pass the sha256 of the "
            "file you mean to load (sha256=...)."
        )
    try:
        state_dict = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as error:
        raise WeightsChecksumError(
            f"The weights file {path} of {what} could not be read as a torch state_dict "
            f"({type(error).__name__}: {error}). Pass a file written by torch.save(state_dict)."
        ) from error
    if not isinstance(state_dict, dict):
        raise WeightsChecksumError(
            f"The weights file {path} of {what} holds a {type(state_dict).__name__}, expected a "
            "state_dict (a dict of tensors) as written by torch.save(model.state_dict())."
        )
    return state_dict, digest


class MnistFeatureSpace(FeatureSpace):
    """A frozen network trained on mnist5k, as a feature space; subclasses pick the network.

    Args:
        pretrained: load trained weights (default); ``False`` gives a randomly initialised network
            (seed 0, deterministic) and a warning: its features mean nothing, use it for tests.
        weights: path of a local state_dict to load instead of the shipped file.
        sha256: expected sha256 of ``weights`` (checked when given; the shipped file is always
            checked against ``SHIPPED_WEIGHTS``).
        input_range: range of the images passed in, ``(-1, 1)`` or ``(0, 1)``.
        resize_mode: interpolation for sizes other than 32×32 and 28×28 (28×28 is padded).
        dtype: ``"bfloat16"`` or ``"float16"`` runs the network under autocast.
    """

    name = "mnist"
    architecture = ""
    layer = ""
    pooling = ""

    def __init__(
        self,
        *,
        pretrained: bool = True,
        weights: str | Path | None = None,
        sha256: str | None = None,
        input_range: Sequence[float] = (-1.0, 1.0),
        resize_mode: str = "bilinear",
        dtype: str | None = None,
    ) -> None:
        from gan_regularizers.models import mnist_networks

        super().__init__(
            Preprocessing(
                resize=mnist_networks.INPUT_SIZE,
                mean=mnist_networks.MEAN,
                std=mnist_networks.STD,
                resize_mode=resize_mode,
                input_range=tuple(input_range),  # type: ignore[arg-type]
                grayscale="repeat",
                dtype=dtype,
            )
        )
        if not isinstance(pretrained, bool):
            raise TypeError(f"{self.name}: pretrained must be True or False, got {pretrained!r}.")
        if weights is not None and not pretrained:
            raise ValueError(
                f"{self.name}: weights={str(weights)!r} and pretrained=False contradict each "
                "other; pass one of them."
            )
        what = f"the {self.name!r} feature space"
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(RANDOM_INIT_SEED)
            self.network = mnist_networks.NETWORKS[self.architecture]()
        if not pretrained:
            warnings.warn(
                f"{what} is randomly initialised (pretrained=False, seed {RANDOM_INIT_SEED}): its "
                "features carry no knowledge of digits. Use it for tests only.",
                UserWarning,
                stacklevel=2,
            )
            self.weights_tag, self.weights_sha256 = f"random-init-seed-{RANDOM_INIT_SEED}", None
        else:
            if weights is None:
                path, expected = shipped_weights_path(self.name), SHIPPED_WEIGHTS[self.name][1]
                if sha256 is not None and sha256.lower() != expected:
                    raise ValueError(
                        f"{self.name}: sha256={sha256!r} does not match the shipped weights "
                        f"({expected}); pass weights=PATH with it to load another file."
                    )
                self.weights_tag = f"mnist5k:{SHIPPED_WEIGHTS[self.name][0]}"
            else:
                path, expected = Path(weights), sha256
                self.weights_tag = "local-file"
            state_dict, self.weights_sha256 = load_verified_state_dict(path, expected, what=what)
            try:
                self.network.load_state_dict(state_dict)
            except RuntimeError as error:
                raise WeightsChecksumError(
                    f"The weights file {path} does not fit the {self.architecture} network of "
                    f"{what}: {error}. Pass a state_dict written by {TRAINING_SCRIPT}."
                ) from error
        self.freeze()

    # -- FeatureSpace ----------------------------------------------------------------------
    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """Check; gray; map to ``[0, 1]``; pad 28→32 or resize to 32; normalise (``B×1×32×32``)."""
        checked = check_images(
            images,
            input_range=self.input_range,
            grayscale="repeat",
            where=f"the input of the {self.name!r} feature space",
        )
        gray = checked[:, :1] if images.shape[1] == 1 else checked.mean(dim=1, keepdim=True)
        low, high = self.input_range
        pixels = (gray.float() - low) / (high - low)
        size = self.input_size or 32
        if tuple(pixels.shape[-2:]) == (RAW_MNIST_SIZE, RAW_MNIST_SIZE):
            pad = (size - RAW_MNIST_SIZE) // 2
            pixels = F.pad(pixels, (pad, pad, pad, pad), value=0.0)  # background
        elif tuple(pixels.shape[-2:]) != (size, size):
            if self.resize_mode in ("bilinear", "bicubic"):
                pixels = F.interpolate(
                    pixels,
                    size=(size, size),
                    mode=self.resize_mode,
                    align_corners=False,
                    antialias=self.antialias,
                )
            else:
                pixels = F.interpolate(pixels, size=(size, size), mode=self.resize_mode)
        return (pixels - self.mean) / self.std

    def embed(self, pixels: torch.Tensor) -> torch.Tensor:
        """Normalised ``B×1×32×32`` → ``B×d`` embedding of the network."""
        return self.network.embed(pixels)

    def backbone_descriptor(self) -> dict[str, Any]:
        from gan_regularizers import __version__

        return {  # the networks are this package's code: its version is the library's
            "feature_space": self.name,
            "backbone": self.architecture,
            "library": "gan_regularizers",
            "gan_regularizers": __version__,
            "weights": self.weights_tag,
            "weights_sha256": self.weights_sha256,
            "layer": self.layer,
            "pooling": self.pooling,
            "dim": self.network.embedding_dim,
        }

    @property
    def descriptor(self) -> dict[str, Any]:
        """Base descriptor, with the gray conversion and the 28×28 padding spelled out."""
        return {
            **super().descriptor,
            "grayscale": "1 channel as is; 3 channels averaged (R+G+B)/3",
            "pad_28_to_32": True,
        }

    # -- classification (for evaluation) ---------------------------------------------------
    @property
    def feature_dim(self) -> int:
        """Size ``d`` of the embedding."""
        return int(self.network.embedding_dim)

    @property
    def num_classes(self) -> int:
        """Number of digit classes (10)."""
        from gan_regularizers.models.mnist_networks import NUM_CLASSES

        return NUM_CLASSES

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """``B×C×H×W`` images → float32 class logits ``B×10`` (``B×11`` for the evaluator)."""
        pixels = self.preprocess(images).contiguous(memory_format=torch.channels_last)
        with self._autocast(pixels.device):
            logits = self.network.head(self.network.embed(pixels))
        return logits.float()

    def probabilities(self, images: torch.Tensor) -> torch.Tensor:
        """``B×10`` softmax class probabilities."""
        return self.logits(images).softmax(dim=1)

    @torch.inference_mode()
    def predict(self, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        """Predicted digit per image, int64 ``B``, computed in batches under inference mode."""
        return torch.cat([self.logits(chunk).argmax(dim=1) for chunk in images.split(batch_size)])


class MnistFeatures(MnistFeatureSpace):
    """``mnist-features``: 64-d global-average-pooled embedding of ``mnist-features-cnn``."""

    name = "mnist-features"
    architecture = "mnist-features-cnn"
    layer = "features: 4 conv-BN-ReLU, after the last ReLU"
    pooling = "global average"


class MnistClassifier(MnistFeatureSpace):
    """``mnist-classifier``: 128-d penultimate embedding of ``mnist-classifier-cnn`` (for eval)."""

    name = "mnist-classifier"
    architecture = "mnist-classifier-cnn"
    layer = "penultimate: linear 256->128 + ReLU, before dropout and head"
    pooling = "2x2 average, flattened"


class MnistEvaluator(MnistFeatureSpace):
    """``mnist-evaluator``: LeNet-5 with a "not a digit" class, independent of mnist-features.

    Its 120-d embedding (linear CKA 0.70 to ``mnist-features`` on the 5,000 digits) is the space
    for Fréchet distance on digits; ``predict`` returns the accepted digit or ``-1`` for a
    sample the network rejects (the reject class wins, or confidence below
    ``ACCEPT_THRESHOLD``).
    """

    name = "mnist-evaluator"
    architecture = "mnist-evaluator-lenet5"
    layer = "first fully connected layer (400->120) + tanh"
    pooling = "LeNet-5 average pooling, flattened"

    @torch.inference_mode()
    def predict(self, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        """Accepted digit per image (0–9), or ``-1`` where the image is rejected as no digit."""
        from gan_regularizers.models.digit_evaluator import accepted_digits

        return torch.cat([accepted_digits(self.logits(c)) for c in images.split(batch_size)])


@hookimpl
def register_feature_spaces(register: Register) -> None:
    register("mnist-features", MnistFeatures)
    register("mnist-classifier", MnistClassifier)
    register("mnist-evaluator", MnistEvaluator)
