"""Fréchet distance in any feature space: ``fd:<space>`` (and ``fid`` = ``fd:inception``).

Features stream through ``FeatureMoments`` (float64, never
stored); under ``torch.distributed`` each rank reads its shard (``rank::world_size``) and the
moments are merged across ranks, a rank with no images contributing nothing. Reference statistics
go through the package's one statistics cache (``gan_regularizers.files.cache``, shared with
the centroid): the key hashes the feature space's descriptor and an order-independent fingerprint
of the images used; rank 0 alone reads and writes it, and a cache that cannot be written warns.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from gan_regularizers.checks.images import warn_if_zero_one
from gan_regularizers.data.batches import is_reiterable, iterate_batches, length_hint
from gan_regularizers.distributed import all_gather_objects, rank_and_world_size
from gan_regularizers.errors import FitDataError
from gan_regularizers.features.moments import FeatureMoments, GaussianStatistics
from gan_regularizers.files.cache import data_identity, entry_path, read_entry, write_entry
from gan_regularizers.files.statistics_files import descriptor_differences, module_descriptor
from gan_regularizers.metrics.base import module_device

REFERENCE_FORMAT = "gan-regularizers/frechet-statistics"


def feature_statistics(
    space: nn.Module,
    data: Any,
    max_images: int | None = None,
    batch_size: int = 64,
    description: str = "features",
    progress: bool = True,
) -> GaussianStatistics:
    """Mean and covariance of ``space``'s features over ``data`` (images in ``[-1, 1]``)."""
    from tqdm.auto import tqdm

    device = module_device(space)
    moments = FeatureMoments()
    rank, _ = rank_and_world_size()
    with (
        tqdm(
            total=length_hint(data, max_images),
            desc=description,
            unit="img",
            disable=not progress or rank != 0,
            leave=False,
        ) as bar,
        torch.inference_mode(),
    ):
        for batch in iterate_batches(data, batch_size, max_images):
            features = space(batch.images.to(device))
            moments.update(features.reshape(features.shape[0], -1))
            bar.update(batch.images.shape[0])
    return moments.all_reduce().statistics()


def reference_statistics(
    space: nn.Module,
    data: Any,
    max_images: int | None = None,
    batch_size: int = 64,
    cache: bool = True,
    cache_key: str | None = None,
    progress: bool = True,
) -> GaussianStatistics:
    """``feature_statistics`` of real data, through the content-addressed cache.

    Warns with ``InputRangeWarning`` when every image value is
    ≥ 0 while the space takes ``[-1, 1]`` (``[0, 1]`` pixels given by mistake). With
    ``cache=True`` the images are hashed first, so a one-shot iterator needs ``cache_key``.
    """
    if not cache:
        return _observed_statistics(space, data, max_images, batch_size, progress)
    if cache_key is None and not is_reiterable(data):
        raise FitDataError(
            "reference statistics with cache=True hash the images first, which would use up a "
            "one-shot iterator. Pass a Dataset, DataLoader or tensor, a cache_key, or cache=False."
        )
    descriptor = module_descriptor(space)
    images = None
    if cache_key is None:
        images = (batch.images for batch in iterate_batches(data, batch_size, max_images))
    identity = data_identity(images, cache_key, max_images)
    path = entry_path("frechet", {"descriptor": descriptor, "data": identity})
    cached = _read_cache_entry(path, descriptor)
    if cached is not None:
        return cached
    statistics = _observed_statistics(space, data, max_images, batch_size, progress)
    write_entry(
        path,
        {
            "format": REFERENCE_FORMAT,
            "descriptor": descriptor,
            "mean": statistics.mean.cpu(),
            "covariance": statistics.covariance.cpu(),
            "count": statistics.count,
        },
    )
    return statistics


def _observed_statistics(
    space: nn.Module, data: Any, max_images: int | None, batch_size: int, progress: bool
) -> GaussianStatistics:
    """``feature_statistics`` of real images, watching their smallest value on the way."""
    smallest = [float("inf")]

    def observed() -> Any:
        for batch in iterate_batches(data, batch_size, max_images):
            if batch.images.numel():
                smallest[0] = min(smallest[0], float(batch.images.detach().min()))
            yield batch.images

    statistics = feature_statistics(space, observed(), None, batch_size, "reference", progress)
    minimum = min(float(v) for v in all_gather_objects(smallest[0]))  # type: ignore[arg-type]
    declared = tuple(getattr(space, "input_range", (-1.0, 1.0)))
    warn_if_zero_one(minimum, declared, "reference statistics")  # type: ignore[arg-type]
    return statistics


def _read_cache_entry(path: Path, descriptor: dict[str, Any]) -> GaussianStatistics | None:
    """The cached statistics on every rank (rank 0 reads), or ``None`` on a miss."""
    payload = read_entry(path, REFERENCE_FORMAT)
    if payload is None or descriptor_differences(payload["descriptor"], descriptor):
        return None
    return GaussianStatistics(payload["mean"], payload["covariance"], payload["count"])
