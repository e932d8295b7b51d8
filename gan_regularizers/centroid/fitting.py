"""Fitting the centroid's reference statistics: feature passes, the PCA, the input checks.

``fit_statistics`` runs the frozen backbone over real images (once when the features fit
``memory_budget``, twice otherwise), checks the images on the way (dtype, range, NaN, one image
size), optionally fits the released code's PCA, and computes the groups' centres and radii
(``group_statistics``), all-reduced under ``torch.distributed``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

from gan_regularizers.centroid.group_statistics import (
    FeatureBatch,
    FeaturePasses,
    GroupStatistics,
    class_statistics,
    kmeans_statistics,
    single_group_statistics,
)
from gan_regularizers.centroid.options import CentroidOptions
from gan_regularizers.checks.images import check_not_meta
from gan_regularizers.data.batches import is_reiterable, iterate_batches, length_hint
from gan_regularizers.distributed import all_gather_objects, rank_and_world_size
from gan_regularizers.errors import (
    FitDataError,
    ImageSizeError,
    InputTypeError,
    InputValueError,
)
from gan_regularizers.features.moments import FeatureMoments

Extract = Callable[[torch.Tensor], torch.Tensor]  # images on the device → B×d float32 features


@dataclass
class FitOutcome:
    """What ``fit`` learns: group statistics, class labels, the projection, the image size,
    and the smallest pixel value seen (for the ``[0, 1]``-data warning)."""

    statistics: GroupStatistics
    classes: torch.Tensor
    projection: tuple[torch.Tensor, torch.Tensor] | None
    image_size: tuple[int, int]
    minimum: float


class ImageObserver:
    """Checks every real image batch and remembers the smallest value and the image size."""

    def __init__(self) -> None:
        self.minimum = math.inf
        self.size: tuple[int, int] | None = None

    def check(self, images: torch.Tensor) -> None:
        """Refuse integer dtypes, NaN/Inf, values outside ``[-1, 1]`` and a changing size."""
        if not images.is_floating_point():
            raise InputTypeError(
                f"fit() got images of dtype {images.dtype}; expected floats in [-1, 1]. "
                "Convert them, e.g. images.float() / 127.5 - 1."
            )
        low, high = float(images.min()), float(images.max())
        if not (math.isfinite(low) and math.isfinite(high)):
            raise InputValueError("fit() got images with NaN or Inf values.")
        if low < -1.01 or high > 1.01:
            raise InputValueError(
                f"fit() got images ranging over [{low:.4g}, {high:.4g}]; expected [-1, 1], the "
                "generator's range. Scale them, e.g. x * 2 - 1 for [0, 1] or x / 127.5 - 1 for "
                "[0, 255]."
            )
        self.minimum = min(self.minimum, low)
        size = (int(images.shape[-2]), int(images.shape[-1]))
        if self.size is not None and size != self.size:
            raise ImageSizeError(
                f"fit() got images of {_size(self.size)} and of {_size(size)}; the statistics "
                "hold for one image size (the generator's). Resize the real images to one size."
            )
        self.size = size

    def merged(self) -> tuple[float, tuple[int, int] | None]:
        """The smallest value and the image size over every rank's images."""
        parts = all_gather_objects((self.minimum, self.size))
        sizes = {size for _, size in parts if size is not None}  # type: ignore[misc]
        if len(sizes) > 1:
            raise ImageSizeError(
                f"the ranks fitted images of different sizes ({', '.join(map(_size, sizes))}); "
                "every rank must read the same dataset."
            )
        minimum = min(value for value, _ in parts)  # type: ignore[misc]
        return minimum, next(iter(sizes), None)


def _size(size: tuple[int, int]) -> str:
    return f"{size[0]}×{size[1]}"


def fit_statistics(
    extract: Extract,
    data: Any,
    options: CentroidOptions,
    *,
    max_images: int | None,
    batch_size: int,
    device: torch.device,
) -> FitOutcome:
    """Centres, radii and counts of ``extract``'s features over ``data`` (images in [-1, 1])."""
    if data is None:
        raise FitDataError(
            "fit() got None; pass the real images: a tensor N×C×H×W in [-1, 1], a Dataset, a "
            "DataLoader or an iterable of batches."
        )
    observer = ImageObserver()
    passes = _feature_passes(extract, data, options, observer, max_images, batch_size, device)
    projection = None
    if options.projection is not None:
        projection = fit_pca(passes, options.projection)
        passes = _projected(passes, projection[0].float(), projection[1].float())
    classes = torch.zeros(0, dtype=torch.long)
    if options.per_class:
        statistics, classes = class_statistics(passes, options.radius, options.q)
        _check_classes(statistics, classes)
    elif options.centers > 1:
        statistics = kmeans_statistics(
            passes,
            options.centers,
            options.radius,
            options.q,
            options.kmeans_iterations,
            options.seed,
        )
    else:
        statistics = single_group_statistics(passes, options.radius, options.q)
    minimum, size = observer.merged()
    assert size is not None  # statistics exist, so some rank saw images
    return FitOutcome(statistics, classes.to(device), projection, size, minimum)


def _feature_passes(
    extract: Extract,
    data: Any,
    options: CentroidOptions,
    observer: ImageObserver,
    max_images: int | None,
    batch_size: int,
    device: torch.device,
) -> FeaturePasses:
    """Passes over ``(features, labels)``, checking the images and showing progress."""
    total = length_hint(data, max_images)
    rank, _ = rank_and_world_size()

    def compute() -> Iterator[FeatureBatch]:
        for batch in iterate_batches(data, batch_size, max_images):
            check_not_meta(batch.images, "fit()'s images")
            images = batch.images.to(device)
            observer.check(images)
            with torch.no_grad():
                features = extract(images)
            if not torch.isfinite(features).all():
                raise InputValueError(
                    "the feature space returned NaN or Inf features for real images; check the "
                    "backbone's weights and the images."
                )
            yield features, batch.labels

    def progress(batches: Iterator[FeatureBatch], description: str) -> Iterator[FeatureBatch]:
        from tqdm.auto import tqdm

        # TQDM_DISABLE is tqdm's own switch; a quiet training run sets it around fit()
        hide = not options.progress or rank != 0 or bool(os.environ.get("TQDM_DISABLE"))
        with tqdm(
            total=total, desc=f"centroid {description}", unit="img", disable=hide, leave=False
        ) as bar:
            for features, labels in batches:
                bar.update(features.shape[0])
                yield features, labels

    return FeaturePasses(compute, options.memory_budget, is_reiterable(data), progress)


def _check_classes(statistics: GroupStatistics, classes: torch.Tensor) -> None:
    """Every class needs two images and a spread of features, else its d_ref is 0."""
    for label, count, radius in zip(
        classes.tolist(), statistics.counts.tolist(), statistics.radii.tolist(), strict=True
    ):
        if count < 2:
            raise FitDataError(
                f"per_class=True: class {label} has {count} image; its reference distance "
                "would be 0 and every sample of that class penalised. Give every class at "
                "least 2 images, drop the class, or use per_class=False."
            )
        if radius == 0.0:
            raise FitDataError(
                f"per_class=True: the images of class {label} all have the same features, so "
                "its d_ref = 0. Check the data of that class."
            )


def fit_pca(
    passes: Callable[[str], Iterator[FeatureBatch]], dim: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean ``d`` and the top ``dim`` principal axes (rows, ``dim×d``) of the features.

    The covariance comes from ``FeatureMoments``
    (float64, merged across ranks); the axes are its top eigenvectors, each signed so that its
    largest-magnitude entry is positive (a deterministic choice; PCA fixes axes up to sign).
    """
    moments = FeatureMoments()
    for features, _ in passes("projection"):
        moments.update(features)
    moments.all_reduce()
    if moments.count < 2:
        raise FitDataError("the released-code projection needs at least 2 images.")
    covariance = moments.covariance
    _, vectors = torch.linalg.eigh((covariance + covariance.T) / 2)
    components = vectors[:, -dim:].flip(1).T.contiguous()
    signs = torch.sign(components.gather(1, components.abs().argmax(dim=1, keepdim=True)))
    return moments.mean, components * signs


def _projected(
    passes: Callable[[str], Iterator[FeatureBatch]], mean: torch.Tensor, components: torch.Tensor
) -> Callable[[str], Iterator[FeatureBatch]]:
    def project(description: str) -> Iterator[FeatureBatch]:
        for features, labels in passes(description):
            yield (features - mean) @ components.T, labels

    return project
