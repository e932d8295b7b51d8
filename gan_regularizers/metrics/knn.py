"""k-nearest-neighbour radii and ball membership in float64, in memory-bounded chunks.

Distances are Euclidean, ``‖a − b‖ = √max(‖a‖² + ‖b‖² − 2aᵀb, 0)`` in float64, computed for a
chunk of rows at a time against the whole other set, so the peak memory is about
``chunk × n × 8`` bytes (``chunk`` chosen to keep it under ``memory_bytes``, default 256 MiB).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch

from gan_regularizers.errors import MetricError

DEFAULT_MEMORY_BYTES = 256 * 2**20


def as_features(values: object, what: str) -> torch.Tensor:
    """A ``N×d`` float64 CPU tensor from a tensor or array (checked: 2-D, finite, N ≥ 2)."""
    tensor = torch.as_tensor(values)
    if tensor.dim() != 2:
        raise MetricError(
            f"{what} must be N×d features (one row per image), got shape {tuple(tensor.shape)}. "
            "Flatten them first, e.g. features.reshape(len(features), -1)."
        )
    if tensor.shape[0] < 2:
        raise MetricError(f"{what}: at least 2 feature rows are needed, got {tensor.shape[0]}.")
    tensor = tensor.detach().to("cpu", torch.float64)
    if not torch.isfinite(tensor).all():
        raise MetricError(f"{what} contain NaN or Inf; check the images and the network.")
    return tensor


def as_feature_pair(
    real_features: object, fake_features: object
) -> tuple[torch.Tensor, torch.Tensor]:
    """Both sets as checked ``N×d`` float64 tensors of the same dimension ``d``."""
    real = as_features(real_features, "real_features")
    fake = as_features(fake_features, "fake_features")
    if real.shape[1] != fake.shape[1]:
        raise MetricError(
            f"real features have {real.shape[1]} dimensions, generated ones {fake.shape[1]}: "
            "they must come from the same feature space. Embed both sets with the same network "
            "(and the same layer and options)."
        )
    return real, fake


def _chunks(rows: int, columns: int, memory_bytes: int) -> Iterator[slice]:
    size = max(1, memory_bytes // (8 * max(columns, 1)))
    for start in range(0, rows, size):
        yield slice(start, min(start + size, rows))


def distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Euclidean distances ``len(a) × len(b)`` in float64."""
    squared = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * (a @ b.T)
    return squared.clamp_(min=0).sqrt_()


def reduce_rows(
    a: torch.Tensor,
    b: torch.Tensor,
    reduce: Callable[[torch.Tensor, slice], torch.Tensor],
    memory_bytes: int = DEFAULT_MEMORY_BYTES,
) -> torch.Tensor:
    """``cat(reduce(distances(a[rows], b), rows))`` over row chunks of ``a``."""
    parts = [reduce(distances(a[rows], b), rows) for rows in _chunks(len(a), len(b), memory_bytes)]
    return torch.cat(parts)


def kth_neighbour_radii(
    features: torch.Tensor, k: int, memory_bytes: int = DEFAULT_MEMORY_BYTES
) -> torch.Tensor:
    """Distance of each row to its ``k``-th nearest *other* row (itself excluded)."""
    if not 1 <= k < len(features):
        raise MetricError(
            f"k must be in [1, {len(features) - 1}] for {len(features)} samples, got {k}."
        )
    return reduce_rows(
        features,
        features,
        lambda d, _: d.kthvalue(k + 1, dim=1).values,  # the 1st is the row itself (0)
        memory_bytes,
    )


def count_in_balls(
    points: torch.Tensor,
    centres: torch.Tensor,
    radii: torch.Tensor,
    memory_bytes: int = DEFAULT_MEMORY_BYTES,
) -> torch.Tensor:
    """For each point, the number of balls ``B(centreⱼ, radiusⱼ)`` (closed) that contain it."""
    return reduce_rows(
        points, centres, lambda d, _: (d <= radii[None, :]).sum(1).to(torch.float64), memory_bytes
    )


def in_own_ball_of_any(
    centres: torch.Tensor,
    radii: torch.Tensor,
    points: torch.Tensor,
    memory_bytes: int = DEFAULT_MEMORY_BYTES,
) -> torch.Tensor:
    """For each centre, 1.0 when some point lies in its ball ``B(centre, radius)``, else 0.0."""
    return reduce_rows(
        centres,
        points,
        lambda d, rows: (d.min(dim=1).values <= radii[rows]).to(torch.float64),
        memory_bytes,
    )
