"""Fitting and Fréchet statistics under torch.distributed equal one process (gloo, CPU, fork).

The feature modules are elementwise, so a feature never depends on which other images share its
batch: 1 rank and W ranks see bit-identical features and any difference comes from the
reductions, which must agree to 1e-9 relative. Covered: N not divisible by W (1001 images), a
global ``max_images``, ranks with no images (W > N), too little data in total (every rank
raises the same error, none hangs), and the caches (rank 0 alone reads and writes them).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import torch
from helpers import run_in_gloo_group
from torch import nn
from torch.utils.data import TensorDataset

from gan_regularizers import CentroidLoss, metrics
from gan_regularizers.data.batches import iterate_batches, length_hint, subset_indices
from gan_regularizers.distributed import all_reduce_sum_or_none, shard_indices
from gan_regularizers.features.moments import FeatureMoments
from gan_regularizers.metrics.frechet import feature_statistics, reference_statistics

EXACT = {"rtol": 1e-9, "atol": 1e-12}


class Elementwise(nn.Module):
    """``sin(3x)`` per pixel (12-d features for 3×2×2 images); counts the images it sees."""

    def __init__(self) -> None:
        super().__init__()
        self.images_seen = 0

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        self.images_seen += images.shape[0]
        return torch.sin(3 * images.flatten(1))


def images(n: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, 2, 2, generator=generator) * 2 - 1


launch = run_in_gloo_group  # job(rank, *args) on each rank of one gloo group


def per_rank(out: Path, world_size: int) -> list[Any]:
    return [torch.load(f"{out}.{rank}", weights_only=False) for rank in range(world_size)]


# -- sharding --------------------------------------------------------------------------------


def _shards(rank: int, n: int, max_images: int | None, out: str) -> None:
    data = TensorDataset(torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1))
    seen = [b.images.flatten() for b in iterate_batches(data, 4, max_images)]
    flat = torch.cat(seen) if seen else torch.zeros(0)
    torch.save((flat, length_hint(data, max_images), list(shard_indices(n))), f"{out}.{rank}")


@pytest.mark.parametrize(
    ("n", "world_size", "max_images"), [(1001, 2, None), (1001, 2, 999), (2, 3, None)]
)
def test_shards_are_disjoint_and_cover_the_data_once(
    tmp_path: Path, n: int, world_size: int, max_images: int | None
) -> None:
    out = tmp_path / "shard"
    launch(_shards, world_size, n, max_images, str(out))
    results = per_rank(out, world_size)
    chosen = subset_indices(n, max_images, seed=0).tolist()  # a seeded random sample
    assert len(chosen) == min(n, max_images or n)
    everything = torch.cat([seen for seen, _, _ in results])
    assert sorted(everything.long().tolist()) == chosen  # no duplicate, no pad
    for rank, (seen, hint, indices) in enumerate(results):
        assert seen.long().tolist() == chosen[rank::world_size]
        assert hint == len(seen)
        assert indices == list(range(rank, n, world_size))
    if world_size > n:
        assert results[-1][0].numel() == 0  # the last rank has nothing


def _reduce_with_an_empty_rank(rank: int, out: str) -> None:
    local = torch.full((2, 3), float(rank + 1), dtype=torch.float64) if rank < 2 else None
    nothing = all_reduce_sum_or_none(None)
    torch.save((all_reduce_sum_or_none(local), nothing), f"{out}.{rank}")


def test_a_rank_without_data_contributes_zeros_of_the_others_shape(tmp_path: Path) -> None:
    out = tmp_path / "sums"
    launch(_reduce_with_an_empty_rank, 3, str(out))
    for total, nothing in per_rank(out, 3):
        assert total.dtype == torch.float64 and total.shape == (2, 3)
        assert torch.equal(total, torch.full((2, 3), 3.0, dtype=torch.float64))  # 1 + 2 + 0
        assert nothing is None


# -- Fréchet statistics ------------------------------------------------------------------------


def _moments(rank: int, n: int, max_images: int | None, out: str) -> None:
    statistics = feature_statistics(
        Elementwise(), TensorDataset(images(n)), max_images, batch_size=16, progress=False
    )
    torch.save(statistics, f"{out}.{rank}")


@pytest.mark.parametrize(
    ("n", "world_size", "max_images"),
    [(1001, 2, None), (1001, 2, 999), (2, 3, None), (3, 4, None)],
    ids=["1001-on-2", "max-999-on-2", "2-on-3-one-empty", "3-on-4-one-empty"],
)
def test_feature_statistics_equal_one_process(
    tmp_path: Path, n: int, world_size: int, max_images: int | None
) -> None:
    out = tmp_path / "moments"
    launch(_moments, world_size, n, max_images, str(out))
    single = feature_statistics(
        Elementwise(), TensorDataset(images(n)), max_images, batch_size=16, progress=False
    )
    assert single.count == min(n, max_images or n)
    # the float64 numpy-style reference: mean and unbiased covariance of the features
    features = torch.sin(3 * images(n)[subset_indices(n, max_images)].flatten(1)).double()
    torch.testing.assert_close(single.mean, features.mean(0), **EXACT)
    torch.testing.assert_close(single.covariance, torch.cov(features.T), **EXACT)
    for statistics in per_rank(out, world_size):
        assert statistics.count == single.count
        torch.testing.assert_close(statistics.mean, single.mean, **EXACT)
        torch.testing.assert_close(statistics.covariance, single.covariance, **EXACT)


def _moments_of_one_image(rank: int, out: str) -> None:
    moments = FeatureMoments()
    if rank == 0:
        moments.update(torch.ones(1, 4))
    moments.all_reduce()
    try:
        _ = moments.covariance
    except ValueError as error:
        torch.save((moments.count, str(error)), f"{out}.{rank}")


def test_too_few_samples_in_total_fail_alike_on_every_rank(tmp_path: Path) -> None:
    out = tmp_path / "one"
    launch(_moments_of_one_image, 2, str(out))
    for count, message in per_rank(out, 2):
        assert count == 1 and "1 sample(s) seen; a covariance needs at least 2" in message


def frechet_distance_between(space: nn.Module, real: torch.Tensor, fake: torch.Tensor):
    """``fd`` in ``space`` through the engine (each rank reads its shard of both sets)."""
    metric = metrics.FrechetDistance(space)
    evaluation = metrics.evaluate(fake, real, [metric], cache=False, intervals=False)
    return evaluation.metrics[metric.name]


def _frechet(rank: int, out: str) -> None:
    result = frechet_distance_between(Elementwise(), images(101, seed=1), images(77, seed=2))
    torch.save(result.value, f"{out}.{rank}")


def test_frechet_distance_equals_one_process(tmp_path: Path) -> None:
    out = tmp_path / "fd"
    launch(_frechet, 2, str(out))
    single = frechet_distance_between(Elementwise(), images(101, seed=1), images(77, seed=2))
    assert single.n_real == 101 and single.n_fake == 77 and single.value > 0
    for value in per_rank(out, 2):
        assert value == pytest.approx(single.value, rel=1e-9)


def _cached_reference(rank: int, root: str, out: str) -> None:
    # node-local caches: rank 1's folder never receives the file, yet it must hit with rank 0
    os.environ["GAN_REGULARIZERS_CACHE"] = f"{root}/cache{rank}"
    space = Elementwise()
    data = TensorDataset(images(9))
    first = reference_statistics(space, data, batch_size=4, progress=False)
    computed = space.images_seen
    second = reference_statistics(space, data, batch_size=4, progress=False)
    torch.save((first, second, computed, space.images_seen - computed), f"{out}.{rank}")


def test_reference_cache_is_read_and_written_by_rank_zero_only(tmp_path: Path) -> None:
    out = tmp_path / "ref"
    launch(_cached_reference, 2, str(tmp_path), str(out))
    assert len(list((tmp_path / "cache0").glob("frechet-*.pt"))) == 1
    assert not (tmp_path / "cache1").exists() or not list((tmp_path / "cache1").iterdir())
    results = per_rank(out, 2)
    for rank, (first, second, computed, recomputed) in enumerate(results):
        # the first call ran the network on this rank's shard; the second hit the cache
        assert computed == len(range(rank, 9, 2)) and recomputed == 0
        assert first.count == second.count == 9
        torch.testing.assert_close(second.covariance, results[0][0].covariance, **EXACT)


# -- centroid fitting --------------------------------------------------------------------------

CENTROID_OPTIONS = [
    {},
    {"radius": "quantile", "q": 0.7},
    {"per_class": True},
    {"centers": 2, "kmeans_iterations": 5},
]


def _dataset(n: int) -> TensorDataset:
    # two classes of ≥ 2 images each when n allows (a class of one image is refused), else one
    labels = (
        torch.tensor([0, 0, 1] * (n // 3 + 1))[:n] if n > 3 else torch.zeros(n, dtype=torch.long)
    )
    return TensorDataset(images(n), labels)


def _fit(rank: int, n: int, options: dict, out: str) -> None:
    loss = CentroidLoss(Elementwise(), progress=False, **options).fit(_dataset(n), batch_size=8)
    torch.save({k: v.clone() for k, v in loss.state_dict().items()}, f"{out}.{rank}")


@pytest.mark.parametrize("options", CENTROID_OPTIONS, ids=["mean", "quantile", "class", "kmeans"])
@pytest.mark.parametrize(("n", "world_size"), [(1001, 2), (3, 4)], ids=["1001-on-2", "3-on-4"])
def test_centroid_fit_equals_one_process(
    tmp_path: Path, n: int, world_size: int, options: dict
) -> None:
    out = tmp_path / "fit"
    launch(_fit, world_size, n, options, str(out))
    single = CentroidLoss(Elementwise(), progress=False, **options).fit(_dataset(n), batch_size=8)
    assert int(single.num_images) == n
    for state in per_rank(out, world_size):
        assert int(state["num_images"]) == n
        torch.testing.assert_close(state["center"], single.center, **EXACT)
        torch.testing.assert_close(state["d_ref"], single.d_ref, **EXACT)
        assert torch.equal(state["center_counts"], single.center_counts)


def _fit_one_image(rank: int, out: str) -> None:
    try:
        CentroidLoss(Elementwise(), progress=False).fit(images(1), batch_size=8)
    except ValueError as error:
        torch.save(str(error), f"{out}.{rank}")


def test_fit_on_too_few_images_fails_alike_on_every_rank(tmp_path: Path) -> None:
    out = tmp_path / "few"
    launch(_fit_one_image, 2, str(out))  # rank 1's shard is empty: it must not raise alone
    for message in per_rank(out, 2):
        assert "fit() saw 1 image(s); the reference distance needs at least 2" in message


def _cached_fit(rank: int, root: str, out: str) -> None:
    os.environ["GAN_REGULARIZERS_CACHE"] = f"{root}/cache{rank}"
    space = Elementwise()
    first = CentroidLoss(space, progress=False).fit(images(9), batch_size=4, cache=True)
    computed = space.images_seen
    second = CentroidLoss(space, progress=False).fit(images(9), batch_size=4, cache=True)
    torch.save(
        (first.center, second.center, int(second.num_images), space.images_seen - computed),
        f"{out}.{rank}",
    )


def test_centroid_cache_is_read_and_written_by_rank_zero_only(tmp_path: Path) -> None:
    out = tmp_path / "cached"
    launch(_cached_fit, 2, str(tmp_path), str(out))
    assert len(list((tmp_path / "cache0").glob("centroid-*.pt"))) == 1
    assert not (tmp_path / "cache1").exists() or not list((tmp_path / "cache1").iterdir())
    for first, second, count, recomputed in per_rank(out, 2):
        assert count == 9 and recomputed == 0
        torch.testing.assert_close(second, first, **EXACT)
