"""Exact reference statistics of features: centres and reference radii, in float64, O(k·d) memory.

For groups ``g = 1..k`` of training features ``φ(x_i)`` (one group, one per class, or k-means
clusters):

* centre (eq. 1 of Seo & Park): ``c_g = (1/N_g) Σ_{i∈g} φ(x_i)``;
* radius, ``radius="mean"`` (eq. 2): ``d_ref_g = (1/N_g) Σ_{i∈g} ‖φ(x_i) − c_g‖₂``;
  ``radius="quantile"``: the ``q``-quantile of those distances (soft-boundary SVDD).

The radius needs the final centre, so the exact value takes two passes over the features: one for
the sums, one for the distances. A ``FeaturePasses`` replays features kept in memory when
they fit ``memory_budget`` bytes, and recomputes them otherwise. Sums and counts are all-reduced
under ``torch.distributed``, so every rank ends with identical statistics; a rank whose shard is
empty contributes zeros, and only the global count decides whether there is too little data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch

from gan_regularizers.distributed import (
    all_gather_objects,
    all_reduce_sum,
    all_reduce_sum_or_none,
    broadcast_object,
    collective_device,
    is_distributed,
    rank_and_world_size,
)

FeatureBatch = tuple[torch.Tensor, torch.Tensor | None]  # features B×d float32, labels B or None
Assign = Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor]


class FeaturePasses:
    """Passes over ``(features, labels)`` batches, kept in memory when they fit the budget.

    Args:
        compute: returns a fresh iterator that computes the feature batches (runs the backbone).
        memory_budget: bytes of features (float32 at most) that may be kept to replay later
            passes without the backbone; ``0`` always recomputes (the exact two-pass mode).
        reiterable: whether ``compute`` can be called more than once (False for a one-shot
            iterator), which decides the error when the features do not fit the budget.
        progress: a callable wrapping an iterator with a progress bar, given a description.
    """

    def __init__(
        self,
        compute: Callable[[], Iterator[FeatureBatch]],
        memory_budget: int,
        reiterable: bool = True,
        progress: Callable[[Iterator[FeatureBatch], str], Iterator[FeatureBatch]] | None = None,
    ) -> None:
        self._compute = compute
        self._budget = memory_budget
        self._reiterable = reiterable
        self._progress = progress or (lambda it, desc: it)
        self._stored: list[FeatureBatch] | None = None
        self.backbone_passes = 0
        self.num_features = 0

    def __call__(self, description: str) -> Iterator[FeatureBatch]:
        """One pass over every feature batch."""
        if self._stored is not None:
            yield from self._stored
            return
        if self.backbone_passes >= 1 and not self._reiterable:
            raise ValueError(
                "The features do not fit memory_budget and the data is a one-shot iterator, so "
                "it cannot be read a second time for the exact reference distance. Pass a "
                "Dataset or DataLoader, or raise memory_budget (bytes)."
            )
        self.backbone_passes += 1
        keep: list[FeatureBatch] | None = [] if self._budget > 0 else None
        kept_bytes = 0
        count = 0
        for features, labels in self._progress(self._compute(), description):
            count += features.shape[0]
            if keep is not None:
                if features.dtype == torch.float64:  # keep float32 at most
                    features = features.float()
                kept_bytes += features.numel() * features.element_size()
                if kept_bytes <= self._budget:
                    keep.append((features, labels))
                else:
                    keep = None
            yield features, labels
        self.num_features = count
        self._stored = keep


@dataclass
class GroupStatistics:
    """Centres ``k×d`` and radii ``k`` (float64), member counts ``k`` (int64)."""

    centers: torch.Tensor
    radii: torch.Tensor
    counts: torch.Tensor


def group_sums(
    passes: Callable[[str], Iterator[FeatureBatch]],
    assign: Assign,
    num_groups: int,
    description: str,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Float64 per-group sums ``k×d`` and counts ``k`` of one pass, all-reduced across ranks."""
    sums: torch.Tensor | None = None
    counts: torch.Tensor | None = None
    for features, labels in passes(description):
        groups = assign(features, labels)
        values = features.double()
        if sums is None:
            sums = values.new_zeros(num_groups, values.shape[1])
            counts = values.new_zeros(num_groups)
        sums.index_add_(0, groups, values)
        counts.index_add_(0, groups, torch.ones_like(groups, dtype=torch.float64))
    total_sums, total_counts = all_reduce_sum_or_none(sums), all_reduce_sum_or_none(counts)
    if total_sums is None or total_counts is None:
        raise ValueError(_empty_message())
    return total_sums, total_counts


def _empty_message() -> str:
    return (
        "The data yielded no images, so there are no reference statistics to compute. Check "
        "that the dataset is not empty and that max_images is at least 2."
    )


def group_radii(
    passes: Callable[[str], Iterator[FeatureBatch]],
    assign: Assign,
    centers: torch.Tensor,
    radius: str = "mean",
    q: float = 0.9,
    description: str = "distances",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-group reference radius (mean or ``q``-quantile of ``‖φ − c_g‖``) and member counts."""
    num_groups = centers.shape[0]
    distance_sums = centers.new_zeros(num_groups)
    counts = centers.new_zeros(num_groups)
    kept: list[tuple[torch.Tensor, torch.Tensor]] = []
    for features, labels in passes(description):
        groups = assign(features, labels)
        distances = torch.linalg.vector_norm(features.double() - centers[groups], dim=1)
        distance_sums.index_add_(0, groups, distances)
        counts.index_add_(0, groups, torch.ones_like(distances))
        if radius == "quantile":
            kept.append((groups.cpu(), distances.cpu()))
    distance_sums, counts = all_reduce_sum(distance_sums), all_reduce_sum(counts)
    if radius == "mean":
        return distance_sums / counts.clamp(min=1), counts
    gathered = _gather_all(kept)
    radii = centers.new_zeros(num_groups)
    all_groups = torch.cat([g for g, _ in gathered]) if gathered else torch.zeros(0)
    all_distances = torch.cat([d for _, d in gathered]) if gathered else torch.zeros(0)
    for g in range(num_groups):
        members = all_distances[all_groups == g]
        if members.numel():
            radii[g] = torch.quantile(members.double(), q).to(radii.device)
    return radii, counts


def _gather_all(
    kept: list[tuple[torch.Tensor, torch.Tensor]],
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    if not is_distributed():
        return kept
    import torch.distributed as dist

    everything: list[list[tuple[torch.Tensor, torch.Tensor]] | None] = [None] * (
        dist.get_world_size()
    )
    dist.all_gather_object(everything, kept)
    return [pair for rank_kept in everything for pair in (rank_kept or [])]


def nearest_center(centers: torch.Tensor) -> Assign:
    """Assign each feature to its nearest centre (Euclidean)."""

    def assign(features: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        if centers.shape[0] == 1:
            return torch.zeros(features.shape[0], dtype=torch.long, device=features.device)
        distances = torch.cdist(
            features.double(), centers, compute_mode="donot_use_mm_for_euclid_dist"
        )
        return distances.argmin(dim=1)

    return assign


def by_label(classes: torch.Tensor) -> Assign:
    """Assign each feature to the group of its label; ``classes[g]`` is the label of group g."""
    lookup = {int(label): g for g, label in enumerate(classes.tolist())}

    def assign(features: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        if labels is None:
            raise ValueError("per_class=True needs labels: pass a dataset of (image, label) pairs.")
        try:
            groups = [lookup[int(label)] for label in labels.tolist()]
        except KeyError as error:
            raise ValueError(
                f"label {error.args[0]} has no class centre; the fitted classes are "
                f"{sorted(lookup)}."
            ) from None
        return torch.tensor(groups, dtype=torch.long, device=features.device)

    return assign


def single_group_statistics(
    passes: Callable[[str], Iterator[FeatureBatch]], radius: str = "mean", q: float = 0.9
) -> GroupStatistics:
    """One centre over all features: eq. (1) and eq. (2) (or its quantile variant)."""
    one_group = nearest_center(torch.zeros(1, 1, dtype=torch.float64))
    sums, counts = group_sums(passes, one_group, 1, "centre (pass 1/2)")
    centers = sums / counts.clamp(min=1).unsqueeze(1)
    radii, counts = group_radii(passes, one_group, centers, radius, q, "radius (pass 2/2)")
    return GroupStatistics(centers, radii, counts.long())


def class_statistics(
    passes: Callable[[str], Iterator[FeatureBatch]], radius: str = "mean", q: float = 0.9
) -> tuple[GroupStatistics, torch.Tensor]:
    """One centre per label present in the data; returns the statistics and the class labels."""
    sums: dict[int, torch.Tensor] = {}
    counts: dict[int, float] = {}
    device = collective_device()
    for features, labels in passes("class centres (pass 1/2)"):
        if labels is None:
            raise ValueError("per_class=True needs labels: pass (image, label) pairs.")
        device = features.device
        values = features.double()
        for label in labels.unique().tolist():
            mask = labels.to(features.device) == label
            sums[label] = sums.get(label, 0) + values[mask].sum(dim=0)
            counts[label] = counts.get(label, 0.0) + float(mask.sum())
    labels_here = sorted({label for part in all_gather_objects(sorted(sums)) for label in part})
    if not labels_here:
        raise ValueError(_empty_message())
    local: torch.Tensor | None = None
    if sums:  # a rank with an empty shard learns the feature dimension from the others
        dim = next(iter(sums.values())).shape[0]
        empty = torch.zeros(dim, dtype=torch.float64, device=device)
        local = torch.stack([sums.get(label, empty) for label in labels_here])
    count_vector = torch.tensor(
        [counts.get(label, 0.0) for label in labels_here], dtype=torch.float64, device=device
    )
    stacked = all_reduce_sum_or_none(local)
    assert stacked is not None  # some rank had labels, so some rank had features
    count_vector = all_reduce_sum(count_vector.to(stacked.device))
    centers = stacked / count_vector.clamp(min=1).unsqueeze(1)
    classes = torch.tensor(labels_here, dtype=torch.long)
    radii, final_counts = group_radii(
        passes, by_label(classes), centers, radius, q, "class radii (pass 2/2)"
    )
    return GroupStatistics(centers, radii, final_counts.long()), classes


def kmeans_plus_plus(features: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """k-means++ seeding (Arthur & Vassilvitskii, 2007) on a float64 sample ``n×d``."""
    n = features.shape[0]
    if n < k:
        raise ValueError(f"centers={k} needs at least {k} images, got {n}.")
    first = int(torch.randint(n, (1,), generator=generator))
    chosen = [first]
    closest = torch.linalg.vector_norm(features - features[first], dim=1).square()
    for _ in range(1, k):
        total = closest.sum()
        if total <= 0:  # fewer distinct points than k: take any not chosen yet
            remaining = [i for i in range(n) if i not in chosen]
            chosen.append(remaining[0])
        else:
            chosen.append(int(torch.multinomial(closest / total, 1, generator=generator)))
        new = torch.linalg.vector_norm(features - features[chosen[-1]], dim=1).square()
        closest = torch.minimum(closest, new)
    return features[chosen].clone()


def _interleaved_pool(parts: list[torch.Tensor | None], limit: int) -> torch.Tensor | None:
    """The first ``limit`` features in dataset order from per-rank shards ``rank::world_size``.

    Rank ``r``'s ``j``-th feature is image ``r + j·W`` of the dataset, so interleaving the ranks'
    rows gives the single-process order back.
    """
    present = [p for p in parts if p is not None and p.shape[0] > 0]
    if not present:
        return None
    rows: list[torch.Tensor] = []
    for j in range(max(p.shape[0] for p in present)):
        rows += [p[j] for p in parts if p is not None and j < p.shape[0]]
    return torch.stack(rows[:limit])


def _seed_on_rank_zero(
    local_pool: torch.Tensor | None, k: int, init_samples: int, seed: int
) -> tuple[torch.Tensor, float] | str:
    """k-means++ centres and the data scale from rank 0, or an error message every rank raises.

    Rank 0 gathers every rank's first features and interleaves them, so the seeding pool (and
    therefore the result) is the one a single process would use.
    """
    if is_distributed():
        import torch.distributed as dist

        parts: list[torch.Tensor | None] | None = (
            [None] * dist.get_world_size() if dist.get_rank() == 0 else None
        )
        dist.gather_object(local_pool, parts, dst=0)
        pool = _interleaved_pool(parts, init_samples) if parts is not None else None
        outcome: tuple[torch.Tensor, float] | str | None = None
        if dist.get_rank() == 0:
            outcome = _seed(pool, k, seed)
        return broadcast_object(outcome)  # type: ignore[return-value]
    return _seed(local_pool[:init_samples] if local_pool is not None else None, k, seed)


def _seed(pool: torch.Tensor | None, k: int, seed: int) -> tuple[torch.Tensor, float] | str:
    if pool is None:
        return _empty_message()
    generator = torch.Generator().manual_seed(seed)
    try:
        centers = kmeans_plus_plus(pool, k, generator)
    except ValueError as error:
        return str(error)
    scale = float(pool.std()) if pool.numel() > 1 else 1.0
    return centers, scale


def kmeans_statistics(
    passes: Callable[[str], Iterator[FeatureBatch]],
    k: int,
    radius: str = "mean",
    q: float = 0.9,
    iterations: int = 20,
    seed: int = 0,
    init_samples: int = 4096,
) -> GroupStatistics:
    """k centres by Lloyd's k-means in feature space, then each centre's own radius.

    Seeding is k-means++ on the first ``init_samples`` features in dataset order (under
    torch.distributed gathered from every rank's shard on rank 0, seeded there and broadcast). Each
    iteration is one pass of float64 per-cluster sums; an empty cluster keeps its centre. It stops
    early when no centre moves by more than ``1e-7`` of the data's scale.
    """
    sample: list[torch.Tensor] = []
    taken = 0
    _, world_size = rank_and_world_size()
    local_quota = -(-init_samples // world_size)  # what this rank holds of the first samples
    device = collective_device()  # where an empty shard's zeros live
    for features, _ in passes("k-means seeding"):  # a whole pass, so features can be kept
        device = features.device
        if taken < local_quota:
            sample.append(features.double().cpu())
            taken += features.shape[0]
    local_pool = torch.cat(sample)[:local_quota] if sample else None
    seeding = _seed_on_rank_zero(local_pool, k, init_samples, seed)
    if isinstance(seeding, str):
        raise ValueError(seeding)
    centers, scale = seeding
    centers = centers.to(device)
    for iteration in range(iterations):
        sums, counts = group_sums(passes, nearest_center(centers), k, f"k-means {iteration + 1}")
        updated = torch.where(
            counts.unsqueeze(1) > 0, sums / counts.clamp(min=1).unsqueeze(1), centers
        )
        shift = float(torch.linalg.vector_norm(updated - centers, dim=1).max())
        centers = updated
        if shift <= 1e-7 * max(scale, 1e-12):
            break
    radii, counts = group_radii(passes, nearest_center(centers), centers, radius, q, "radii")
    return GroupStatistics(centers, radii, counts.long())
