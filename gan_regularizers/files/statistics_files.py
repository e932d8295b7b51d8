"""Statistics on disk: atomic writes, checked reads, a content-addressed cache, fingerprints.

A cache entry's key is the sha256 of everything that changes the result: the feature space's
descriptor, a fingerprint of the images actually used, their number and the fitting options. A
changed dataset or option therefore misses. Files are written to a temporary name in the same
folder and moved into place with ``os.replace``, so a killed run never leaves a file that loads.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gan_regularizers.errors import StatisticsFileError
from gan_regularizers.files.atomic import atomic_write

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


def atomic_torch_save(payload: Any, path: str | os.PathLike[str]) -> Path:
    """``torch.save`` to ``path`` atomically (see :mod:`gan_regularizers.files.atomic`)."""
    return atomic_write(path, lambda file: torch.save(payload, file))


def checked_torch_load(path: str | os.PathLike[str], expected_format: str) -> dict[str, Any]:
    """Load a file written by :func:`atomic_torch_save`, with clear errors for bad files."""
    source = Path(path)
    if not source.is_file():
        raise StatisticsFileError(f"No statistics file at {source}. Fit and save it first.")
    try:
        payload = torch.load(source, map_location="cpu", weights_only=True)
    except Exception as error:
        raise StatisticsFileError(
            f"{source} is truncated or not a gan-regularizers statistics file "
            f"({type(error).__name__}: {error}). Delete it and fit the statistics again."
        ) from error
    if not isinstance(payload, dict) or payload.get("format") != expected_format:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise StatisticsFileError(
            f"{source} is not a {expected_format} file (found format {found!r}). Pass a file "
            "written by save(), or fit the statistics again."
        )
    return payload


def module_descriptor(module: nn.Module) -> dict[str, Any]:
    """Descriptor of a feature space: its own ``descriptor``, else class and parameter hash."""
    descriptor = getattr(module, "descriptor", None)
    if isinstance(descriptor, dict):
        return json.loads(json.dumps(descriptor, default=str))
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    cls = type(module)
    return {
        "module": f"{cls.__module__}.{cls.__qualname__}",
        "state_sha256": digest.hexdigest(),
    }


def descriptor_differences(stored: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Human-readable ``key: stored → current`` lines for every key that differs."""
    lines = []
    for key in sorted(set(stored) | set(current)):
        if stored.get(key) != current.get(key):
            lines.append(f"{key}: {stored.get(key)!r} (file) vs {current.get(key)!r} (now)")
    return lines


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
        from gan_regularizers.distributed import is_distributed

        if not is_distributed():
            return self
        import torch.distributed as dist

        parts: list[list[bytes] | None] = [None] * dist.get_world_size()
        dist.all_gather_object(parts, self._digests)
        merged = ImageFingerprint()
        merged._digests = [digest for part in parts for digest in (part or [])]
        return merged

    @property
    def count(self) -> int:
        return len(self._digests)

    def hexdigest(self) -> str:
        digest = hashlib.sha256()
        for item in sorted(self._digests):
            digest.update(item)
        return digest.hexdigest()
