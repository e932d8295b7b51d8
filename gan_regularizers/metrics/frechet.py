"""Fréchet distance in any feature space: ``fd:<space>`` (and ``fid`` = ``fd:inception``).

Features stream through :class:`~gan_regularizers.features.moments.FeatureMoments` (float64, never
stored); under ``torch.distributed`` each rank reads its shard (``rank::world_size``) and the
moments are merged across ranks, a rank with no images contributing nothing. Reference statistics
are cached with the centroid cache's rules: the key hashes the feature space's descriptor, an
order-independent fingerprint of the images used, their number and the options, and files are
written atomically. Under torch.distributed rank 0 alone reads the cache (and broadcasts what it
found) and writes it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gan_regularizers.data.batches import iterate_batches, length_hint
from gan_regularizers.distributed import broadcast_object, rank_and_world_size
from gan_regularizers.features.moments import FeatureMoments, GaussianStatistics
from gan_regularizers.files.statistics_files import (
    ImageFingerprint,
    StatisticsFileError,
    atomic_torch_save,
    cache_dir,
    checked_torch_load,
    descriptor_differences,
    module_descriptor,
    stable_hash,
)
from gan_regularizers.metrics.frechet_trace import frechet_from_moments
from gan_regularizers.metrics.result import MetricResult

REFERENCE_FORMAT = "gan-regularizers/frechet-statistics"


def module_device(space: nn.Module) -> torch.device:
    """The device of a module's first parameter or buffer (CPU for a module with neither)."""
    for tensor in space.parameters():
        return tensor.device
    for tensor in space.buffers():
        return tensor.device
    return torch.device("cpu")


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
    """:func:`feature_statistics` of real data, through the content-addressed cache."""
    if not cache:
        return feature_statistics(space, data, max_images, batch_size, "reference", progress)
    descriptor = module_descriptor(space)
    if cache_key is None:
        fingerprint = ImageFingerprint()
        for batch in iterate_batches(data, batch_size, max_images):
            fingerprint.update(batch.images)
        merged = fingerprint.merged_across_ranks()
        data_id: dict[str, Any] = {"images_sha256": merged.hexdigest(), "count": merged.count}
    else:
        data_id = {"cache_key": cache_key, "max_images": max_images}
    key = stable_hash({"descriptor": descriptor, "data": data_id, "kind": "frechet-reference"})
    path = cache_dir() / f"frechet-{key[:40]}.pt"
    cached = broadcast_object(_read_cache_entry(path, descriptor))  # rank 0 reads, all receive
    if isinstance(cached, GaussianStatistics):
        return cached
    statistics = feature_statistics(space, data, max_images, batch_size, "reference", progress)
    if rank_and_world_size()[0] == 0:
        atomic_torch_save(
            {
                "format": REFERENCE_FORMAT,
                "descriptor": descriptor,
                "mean": statistics.mean.cpu(),
                "covariance": statistics.covariance.cpu(),
                "count": statistics.count,
            },
            path,
        )
    return statistics


def _read_cache_entry(path: Path, descriptor: dict[str, Any]) -> GaussianStatistics | None:
    """Rank 0's reading of a cache entry (``None`` on other ranks, a miss or a bad file)."""
    if rank_and_world_size()[0] != 0 or not path.is_file():
        return None
    try:
        payload = checked_torch_load(path, REFERENCE_FORMAT)
    except StatisticsFileError:
        return None  # unreadable entry: recompute and overwrite it
    if descriptor_differences(payload["descriptor"], descriptor):
        return None
    return GaussianStatistics(payload["mean"], payload["covariance"], payload["count"])


def frechet_distance_between(
    space: nn.Module,
    real: Any,
    fake: Iterable[Any] | Any,
    max_real: int | None = None,
    max_fake: int | None = None,
    batch_size: int = 64,
    cache: bool = True,
    cache_key: str | None = None,
    progress: bool = True,
) -> MetricResult:
    """Fréchet distance between real and fake images in ``space``'s features (no interval;
    :func:`gan_regularizers.metrics.evaluate` gives one)."""
    real_stats = reference_statistics(space, real, max_real, batch_size, cache, cache_key, progress)
    fake_stats = feature_statistics(space, fake, max_fake, batch_size, "generated", progress)
    value = frechet_from_moments(
        real_stats.mean, real_stats.covariance, fake_stats.mean, fake_stats.covariance
    )
    protocol = {"feature_space": module_descriptor(space), "interval": "none"}
    return MetricResult("fd", value, None, None, real_stats.count, fake_stats.count, protocol)
