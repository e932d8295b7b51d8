"""One content-addressed cache for fitted statistics (centroid statistics, Fréchet references).

An entry's name is ``{kind}-{sha256(key)[:40]}.pt`` in ``cache_dir``, where the key holds
everything that changes the result: the feature space's descriptor, the images' identity (an
order-independent fingerprint and their number, or a caller's ``cache_key``) and the options. A
changed image, option or space therefore misses.

Under ``torch.distributed`` rank 0 alone touches the file system: it reads an entry and
broadcasts what it found, so ranks never disagree about a hit, and it alone writes. A cache that
cannot be read or written (a read-only or full folder) costs a ``CacheWarning``, never the
result: the work goes on without the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from gan_regularizers.distributed import broadcast_object, rank_and_world_size
from gan_regularizers.errors import CacheWarning, GanRegularizersError, InvalidOptionError
from gan_regularizers.files.torch_files import atomic_torch_save, checked_torch_load

CACHE_ENV_VAR = "GAN_REGULARIZERS_CACHE"


def cache_dir() -> Path:
    """``$GAN_REGULARIZERS_CACHE``, else ``~/.cache/gan-regularizers``."""
    configured = os.environ.get(CACHE_ENV_VAR)
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "gan-regularizers"


def stable_hash(value: Any) -> str:
    """sha256 of a JSON-serialisable value, independent of key order."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class ImageFingerprint:
    """Order-independent fingerprint of a set of images: sorted per-image sha256 digests.

    Shuffled loaders of the same images give the same fingerprint; any changed pixel, added or
    removed image changes it.
    """

    def __init__(self) -> None:
        self._digests: list[bytes] = []

    def update(self, images: torch.Tensor) -> None:
        """Add a batch ``B×C×H×W`` (hashed as float32 bytes)."""
        array = images.detach().to("cpu", torch.float32).contiguous().numpy()
        for image in array:
            self._digests.append(hashlib.sha256(image.tobytes()).digest())

    def merged_across_ranks(self) -> ImageFingerprint:
        """The fingerprint of every rank's images together (itself outside torch.distributed)."""
        from gan_regularizers.distributed import all_gather_objects

        parts = all_gather_objects(self._digests)
        merged = ImageFingerprint()
        merged._digests = [digest for part in parts for digest in (part or [])]  # type: ignore[union-attr]
        return merged

    @property
    def count(self) -> int:
        return len(self._digests)

    def hexdigest(self) -> str:
        digest = hashlib.sha256()
        for item in sorted(self._digests):
            digest.update(item)
        return digest.hexdigest()


def data_identity(
    images: Iterable[torch.Tensor] | None, cache_key: str | None, max_images: int | None
) -> dict[str, Any]:
    """What identifies the data in a cache key: ``cache_key`` if given, else a fingerprint.

    Args:
        images: the batches to fingerprint (one pass, all ranks' shards merged); unused when
            ``cache_key`` is given.
        cache_key: a caller's name for the data (skips hashing the images).
        max_images: the cap on the number of images, part of the key with ``cache_key``.
    """
    if cache_key is not None:
        return {"cache_key": cache_key, "max_images": max_images}
    if images is None:
        raise InvalidOptionError("data_identity needs images or a cache_key.")
    fingerprint = ImageFingerprint()
    for batch in images:
        fingerprint.update(batch)
    merged = fingerprint.merged_across_ranks()
    return {"images_sha256": merged.hexdigest(), "num_images": merged.count}


def entry_path(kind: str, key: dict[str, Any]) -> Path:
    """The cache file of ``key`` for one kind of statistics (``"centroid"``, ``"frechet"``)."""
    return cache_dir() / f"{kind}-{stable_hash(key)[:40]}.pt"


def read_entry(path: Path, file_format: str) -> dict[str, Any] | None:
    """Rank 0's reading of a cache entry, on every rank: the payload, or ``None`` on a miss.

    An unreadable entry (truncated, another format, a folder without read permission) warns
    with ``CacheWarning`` and counts as a miss; it is recomputed and, when possible,
    overwritten.
    """
    outcome: dict[str, Any] | str | None = None
    if rank_and_world_size()[0] == 0:
        try:
            if path.is_file():
                outcome = checked_torch_load(path, file_format)
        except (GanRegularizersError, OSError) as error:
            outcome = str(error)
    outcome = broadcast_object(outcome)  # type: ignore[assignment]
    if isinstance(outcome, str):
        warnings.warn(f"ignoring an unreadable cache entry: {outcome}", CacheWarning, stacklevel=3)
        return None
    return outcome


def write_entry(path: Path, payload: dict[str, Any]) -> Path | None:
    """Write ``payload`` atomically on rank 0; a folder that refuses it warns and returns None.

    Returns:
        The path written (rank 0), or ``None`` on other ranks and when writing failed.
    """
    if rank_and_world_size()[0] != 0:
        return None
    try:
        return atomic_torch_save(payload, path)
    except (OSError, RuntimeError) as error:  # torch's zip writer: "unexpected pos" on a full disk
        warnings.warn(
            f"could not write the statistics cache entry {path} ({type(error).__name__}: "
            f"{error}); the result is kept in memory and not cached. Point "
            f"${CACHE_ENV_VAR} at a writable folder with free space to cache it.",
            CacheWarning,
            stacklevel=3,
        )
        return None
