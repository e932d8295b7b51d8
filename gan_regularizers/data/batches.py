"""Turn what users pass as "data" into batches of images (and labels when there are any).

Accepted: a ``Dataset`` (map-style: items are images ``C×H×W`` or ``(image, label, …)`` tuples),
a ``DataLoader`` or any iterable yielding image batches ``B×C×H×W``, single images ``C×H×W`` or
``(images, labels, …)`` tuples, and a plain tensor ``N×C×H×W``.

Under ``torch.distributed``, a ``Dataset`` or tensor is sharded by index (``rank::world_size``),
so no image is seen twice and none is padded; a rank whose shard is empty (more ranks than images)
yields nothing.

``max_images`` of a ``Dataset`` or tensor is a seeded uniform random sample without replacement
(``subset_indices``: ``randperm(N, seed)[:max_images]``, read in index order), never the
first N (mnist5k is sorted by class: its first 500 images are all zeros). It is global: the
sample is drawn once and then sharded. A ``DataLoader`` over a map-style dataset is read through
its dataset the same way. Other iterables cannot be sampled without reading them whole: they are
read as given (each rank is assumed to read its own shard, and takes its share of ``max_images``,
``len(range(rank, max_images, world_size))``), so shuffle them yourself; ``subset_protocol``
says which applied. The statistics all-reduce sums and counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Subset, TensorDataset

from gan_regularizers.distributed import rank_and_world_size


@dataclass
class ImageBatch:
    """Images ``B×C×H×W`` and their labels ``B`` (``None`` when the data has none)."""

    images: torch.Tensor
    labels: torch.Tensor | None


def is_reiterable(data: Any) -> bool:
    """True when iterating ``data`` twice gives the data twice (not a one-shot iterator)."""
    if isinstance(data, (Dataset, DataLoader, torch.Tensor)):
        return True
    return iter(data) is not data


def subset_indices(total: int, max_images: int | None, seed: int = 0) -> torch.Tensor:
    """Indices of the images used: all of them, or ``max_images`` drawn uniformly (seeded).

    ``torch.randperm(total, generator=manual_seed(seed))[:max_images]``, sorted, so the same
    ``(total, max_images, seed)`` always picks the same images.
    """
    if max_images is None or max_images >= total:
        return torch.arange(total)
    generator = torch.Generator().manual_seed(seed)
    return torch.randperm(total, generator=generator)[:max_images].sort().values


def subset_protocol(data: Any, max_images: int | None, seed: int = 0) -> dict[str, Any]:
    """How ``iterate_batches`` picks ``max_images`` of ``data``, for a protocol card."""
    if max_images is None:
        return {"max_images": None, "selection": "all images"}
    if _map_style(_unwrap(data)) or isinstance(data, torch.Tensor):
        selection = f"uniform random sample without replacement (seed {seed})"
    else:
        selection = "the first images the iterable yields (an iterable cannot be sampled)"
    return {"max_images": max_images, "selection": selection, "subset_seed": seed}


def _map_style(data: Any) -> bool:
    return isinstance(data, Dataset) and not isinstance(data, torch.utils.data.IterableDataset)


def _unwrap(data: Any) -> Any:
    """A plain DataLoader over a map-style dataset is read through its dataset."""
    if isinstance(data, DataLoader) and _map_style(data.dataset):
        return data.dataset
    return data


def _as_loader(
    dataset: Dataset, batch_size: int, max_images: int | None, seed: int = 0
) -> DataLoader:
    rank, world_size = rank_and_world_size()
    indices = subset_indices(len(dataset), max_images, seed)  # type: ignore[arg-type]
    if world_size > 1 or len(indices) < len(dataset):  # type: ignore[arg-type]
        dataset = Subset(dataset, indices[rank::world_size].tolist())
    return DataLoader(dataset, batch_size=batch_size, shuffle=False)


def _rank_share(max_images: int | None, sharded_here: bool) -> int | None:
    """This rank's cap: all of ``max_images`` when the Subset already applied it globally."""
    rank, world_size = rank_and_world_size()
    if max_images is None or world_size == 1 or sharded_here:
        return max_images
    return len(range(rank, max_images, world_size))


def _split_item(item: Any) -> ImageBatch:
    if isinstance(item, torch.Tensor):
        images, labels = item, None
    elif isinstance(item, (tuple, list)) and item and isinstance(item[0], torch.Tensor):
        images = item[0]
        labels = item[1] if len(item) > 1 else None
        if labels is not None and not isinstance(labels, torch.Tensor):
            labels = torch.as_tensor(labels)
    elif isinstance(item, dict) and isinstance(item.get("image"), torch.Tensor):
        images, labels = item["image"], item.get("label")
    else:
        raise TypeError(
            "data must yield image tensors (B×C×H×W or C×H×W) or (images, labels) tuples; got "
            f"{type(item).__name__}. Wrap your images in a Dataset or DataLoader that returns "
            "tensors in [-1, 1]."
        )
    if images.dim() == 3:
        images = images.unsqueeze(0)
        if labels is not None:
            labels = labels.reshape(1)
    return ImageBatch(images, labels.reshape(-1) if labels is not None else None)


def iterate_batches(
    data: Dataset | DataLoader | Iterable[Any] | torch.Tensor,
    batch_size: int = 64,
    max_images: int | None = None,
    seed: int = 0,
) -> Iterator[ImageBatch]:
    """Yield ``ImageBatch`` es from ``data``: all, or ``max_images`` of them (module doc)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size}.")
    if max_images is not None and max_images < 1:
        raise ValueError(f"max_images must be a positive integer or None, got {max_images}.")
    if isinstance(data, torch.Tensor):
        data = TensorDataset(data)
    data = _unwrap(data)
    source: Iterable[Any]
    sharded_here = _map_style(data)
    source = _as_loader(data, batch_size, max_images, seed) if sharded_here else data
    max_images = _rank_share(max_images, sharded_here)
    if max_images == 0:
        return
    seen = 0
    for item in source:
        batch = _split_item(item)
        if max_images is not None and seen + batch.images.shape[0] > max_images:
            keep = max_images - seen
            batch = ImageBatch(
                batch.images[:keep], batch.labels[:keep] if batch.labels is not None else None
            )
        if batch.images.shape[0] == 0:
            break
        seen += batch.images.shape[0]
        yield batch
        if max_images is not None and seen >= max_images:
            break


def length_hint(data: Any, max_images: int | None) -> int | None:
    """Number of images ``iterate_batches`` will yield on this rank, when it can be known."""
    try:
        data = _unwrap(data)
        if isinstance(data, torch.Tensor) or _map_style(data):
            rank, world_size = rank_and_world_size()
            total = len(data)  # type: ignore[arg-type]
            if max_images is not None:
                total = min(total, max_images)
            return len(range(rank, total, world_size))
        if isinstance(data, DataLoader) and data.batch_size is not None:
            total = len(data.dataset)  # type: ignore[arg-type]
        else:
            return None
    except TypeError:
        return None
    share = _rank_share(max_images, sharded_here=False)
    return min(total, share) if share is not None else total
