"""Stateful metrics equal the functional ones for any batch split, and on 2 gloo ranks."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import run_in_gloo_group

from gan_regularizers import metrics
from gan_regularizers.errors import FeatureMemoryError

REAL = torch.randn(90, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
FAKE = torch.randn(70, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64) + 0.3
KID = {"subsets": 5, "subset_size": 40, "seed": 2}


def stateful(split: int, rank: int = 0, world_size: int = 1) -> dict[str, list[float]]:
    """Every stateful metric fed features (``feature_space=None``) in batches of ``split``."""
    built = {
        "fd": metrics.FrechetDistance(None),
        "kid": metrics.KernelDistance(None, **KID),
        "pr": metrics.PrecisionRecallMetric(None, k=3),
        "dc": metrics.DensityCoverageMetric(None, k=5),
    }
    for metric in built.values():
        for data, real in ((REAL, True), (FAKE, False)):
            mine = data[rank::world_size]  # the rank::world_size sharding
            for batch in mine.split(split):
                metric.update(batch, real=real)
    out = {}
    for name, metric in built.items():
        result = metric.compute()
        parts = result.results().values() if hasattr(result, "results") else [result]
        out[name] = [v for r in parts for v in (r.value, r.low, r.high)]
    return out


def functional() -> dict[str, list[float]]:
    pr = metrics.precision_recall(REAL, FAKE, k=3)
    dc = metrics.density_coverage(REAL, FAKE, k=5)
    fd = metrics.frechet_distance(REAL, FAKE)
    kid = metrics.kernel_distance(REAL, FAKE, **KID)
    flat = lambda rs: [v for r in rs for v in (r.value, r.low, r.high)]  # noqa: E731
    return {
        "fd": flat([fd]),
        "kid": flat([kid]),
        "pr": flat([pr.precision, pr.recall]),
        "dc": flat([dc.density, dc.coverage]),
    }


@pytest.mark.parametrize("split", [1, 7, 100])
def test_stateful_equals_functional_for_any_batch_split(split: int) -> None:
    expected = functional()
    for name, values in stateful(split).items():
        assert values == pytest.approx(expected[name], rel=1e-9, abs=1e-12), name


def test_reset_forgets_and_feature_spaces_embed_images() -> None:
    fd = metrics.FrechetDistance("mnist-features")
    images = torch.rand(30, 1, 32, 32) * 2 - 1
    fd.update(images[:15], real=True)
    fd.update(images[15:], real=False)
    first = fd.compute().value
    fd.reset()
    with pytest.raises(ValueError, match="at least 2"):
        fd.compute()
    space = metrics.FrechetDistance("mnist-features").space
    with torch.no_grad():
        features = space(images)
    assert first == pytest.approx(metrics.frechet_distance(features[:15], features[15:]).value)
    assert fd.protocol()["feature_space"]["feature_space"] == "mnist-features"


def test_max_features_is_a_clear_error() -> None:
    kid = metrics.KernelDistance(None, max_features=10)
    kid.update(REAL[:10], real=True)
    with pytest.raises(FeatureMemoryError, match=r"max_features=10.*fewer images"):
        kid.update(REAL[10:12], real=True)


def _on_rank(rank: int, out: str) -> None:
    torch.save(stateful(8, rank, 2), f"{out}.{rank}")


def test_two_gloo_ranks_equal_one_process(tmp_path: Path) -> None:
    out = str(tmp_path / "stateful")
    run_in_gloo_group(_on_rank, 2, out)
    single = stateful(8)
    for rank in range(2):
        for name, values in torch.load(f"{out}.{rank}", weights_only=True).items():
            assert values == pytest.approx(single[name], rel=1e-9, abs=1e-12), (rank, name)
