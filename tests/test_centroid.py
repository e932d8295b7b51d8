"""The centroid constraint against float64 numpy references and hand computations."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from feature_modules import LinearFeatures, PointFeatures, points, random_images
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from gan_regularizers import CentroidLoss, get_regularizer
from gan_regularizers.centroid.loss import NotFittedError
from gan_regularizers.errors import InvalidOptionError


def numpy_reference(space: nn.Module, images: torch.Tensor) -> tuple[np.ndarray, float]:
    with torch.no_grad():
        features = space(images).double().numpy()
    center = features.mean(axis=0)
    return center, float(np.linalg.norm(features - center, axis=1).mean())


@pytest.mark.parametrize("memory_budget", [0, 1 << 20])
@pytest.mark.parametrize("kind", ["tensor", "dataset", "tuple-dataset", "loader", "list"])
def test_statistics_equal_float64_numpy(kind: str, memory_budget: int) -> None:
    images = random_images(37)  # 37 is not divisible by the batch size 8
    labels = torch.arange(37) % 4
    data = {
        "tensor": images,
        "dataset": TensorDataset(images),
        "tuple-dataset": TensorDataset(images, labels),
        "loader": DataLoader(TensorDataset(images, labels), batch_size=8, shuffle=True),
        "list": [images[i : i + 8] for i in range(0, 37, 8)],
    }[kind]
    space = LinearFeatures()
    loss = CentroidLoss(space, memory_budget=memory_budget, progress=False)
    loss.fit(data, batch_size=8)
    center, d_ref = numpy_reference(space, images)
    np.testing.assert_allclose(loss.center.numpy(), center, rtol=1e-6, atol=1e-9)
    assert float(loss.d_ref) == pytest.approx(d_ref, rel=1e-6)
    assert int(loss.num_images) == 37


def test_two_pass_and_one_pass_run_the_backbone_twice_and_once() -> None:
    images = random_images(20)
    exact = LinearFeatures()
    CentroidLoss(exact, memory_budget=0, progress=False).fit(images, batch_size=8)
    kept = LinearFeatures()
    CentroidLoss(kept, progress=False).fit(images, batch_size=8)
    assert exact.calls == 2 * 3 and kept.calls == 3


def test_max_images_is_a_seeded_uniform_sample() -> None:
    from gan_regularizers.data.batches import subset_indices

    images = random_images(30)
    space = LinearFeatures()
    loss = CentroidLoss(space, progress=False).fit(images, max_images=11, batch_size=4)
    center, d_ref = numpy_reference(space, images[subset_indices(30, 11, seed=0)])
    assert int(loss.num_images) == 11
    assert float(loss.d_ref) == pytest.approx(d_ref, rel=1e-6)
    np.testing.assert_allclose(loss.center.numpy(), center, rtol=1e-6)


SQUARE = points((-0.5, -0.5), (0.5, -0.5), (-0.5, 0.5), (0.5, 0.5))


def test_penalty_matches_hand_computation() -> None:
    # real points: the corners of a unit square around 0; c = (0, 0), d_ref = sqrt(0.5)
    real = SQUARE
    loss = CentroidLoss(PointFeatures(), weight=0.5, progress=False).fit(real)
    assert loss.center.tolist() == [0.0, 0.0]
    assert float(loss.d_ref) == pytest.approx(math.sqrt(0.5))
    fake = points((1, 0), (0, 0), (0, -1)).requires_grad_()
    value = loss(fake)
    # distances 1, 0, 1; excesses 1 - sqrt 0.5, 0, 1 - sqrt 0.5
    expected = 0.5 * (2 * (1 - math.sqrt(0.5))) / 3
    assert value.item() == pytest.approx(expected, rel=1e-6)
    assert loss.diagnostics["fraction_penalised"] == pytest.approx(2 / 3)
    assert loss.diagnostics["mean_distance"] == pytest.approx(2 / 3)
    value.backward()
    # d/dx of 0.5/3 * ||x - c|| = 0.5/3 * (x - c)/||x - c||
    grad = fake.grad.view(3, 2)
    torch.testing.assert_close(grad[0], torch.tensor([0.5 / 3, 0.0]))
    torch.testing.assert_close(grad[1], torch.zeros(2))
    torch.testing.assert_close(grad[2], torch.tensor([0.0, -0.5 / 3]))


def test_inside_the_radius_gives_zero_loss_and_zero_gradient() -> None:
    loss = CentroidLoss(PointFeatures(), progress=False).fit(SQUARE)
    fake = points((0.5, 0), (0, -0.7)).requires_grad_()
    value = loss(fake)
    value.backward()
    assert value.item() == 0.0
    assert torch.count_nonzero(fake.grad) == 0
    assert loss.diagnostics["fraction_penalised"] == 0.0


def test_gradient_reaches_the_generator_and_not_the_backbone() -> None:
    torch.manual_seed(0)
    generator = nn.Sequential(nn.Linear(4, 12), nn.Tanh())
    space = LinearFeatures()
    loss = CentroidLoss(space, weight=1.0, progress=False).fit(random_images(40) * 0.1)
    fake = generator(torch.randn(16, 4) * 3).view(16, 3, 2, 2)
    value = loss(fake)
    assert value.item() > 0
    value.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in generator.parameters())
    # no gradient reaches the backbone, and the caller's module is left as it was (issue 14)
    assert all(p.grad is None and p.requires_grad for p in space.parameters())
    assert space.training


def test_weight_zero_costs_nothing() -> None:
    space = LinearFeatures()
    loss = CentroidLoss(space, weight=0.0, progress=False).fit(random_images(10))
    calls = space.calls
    value = loss(random_images(4).requires_grad_())
    assert value.item() == 0.0 and space.calls == calls


def test_every_is_declared_for_the_loop_and_warmup_counts_told_training_steps() -> None:
    real = SQUARE
    fake = points((1, 0)).requires_grad_()
    excess = 1 - math.sqrt(0.5)
    lazy = CentroidLoss(PointFeatures(), weight=0.1, every=4, progress=False).fit(real)
    # the module declares its period and never skips a call itself (the training loop does)
    assert lazy.every == 4
    assert [lazy(fake).item() for _ in range(3)] == pytest.approx([0.1 * excess] * 3, rel=1e-6)
    warm = CentroidLoss(PointFeatures(), weight=0.1, warmup_steps=4, progress=False).fit(real)
    with pytest.raises(InvalidOptionError, match=r"never told the step.*set_step"):
        warm(fake)
    values = []
    for step in (1, 3, 5, 9):  # e.g. every=4: the loop calls it on steps 1, 5, 9, told each step
        warm.set_step(step)
        values.append(warm(fake).item())
    assert values == pytest.approx([0.1 * excess * min(1, s / 4) for s in (1, 3, 5, 9)], rel=1e-6)
    assert int(warm.steps) == 9
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert warm(fake).item() == pytest.approx(0.1 * excess, rel=1e-6)  # logging: full λ
    assert int(warm.steps) == 9


def test_quantile_radius_equals_numpy_quantile() -> None:
    images = random_images(33)
    space = LinearFeatures()
    loss = CentroidLoss(space, radius="quantile", q=0.8, progress=False).fit(images)
    with torch.no_grad():
        features = space(images).double().numpy()
    distances = np.linalg.norm(features - features.mean(axis=0), axis=1)
    assert float(loss.d_ref) == pytest.approx(np.quantile(distances, 0.8), rel=1e-6)


def two_clusters() -> tuple[torch.Tensor, torch.Tensor]:
    left = points((-0.9, 0.0), (-0.7, 0.0), (-0.8, 0.1), (-0.8, -0.1))
    right = points((0.7, 0.5), (0.9, 0.5), (0.8, 0.4), (0.8, 0.6), (0.8, 0.5))
    return torch.cat([left, right]), torch.tensor([0] * 4 + [1] * 5)


def test_k_centres_find_the_clusters_and_their_own_radii() -> None:
    images, _ = two_clusters()
    loss = CentroidLoss(PointFeatures(), centers=2, weight=1.0, progress=False).fit(images)
    order = loss.center[:, 0].argsort()
    np.testing.assert_allclose(loss.center[order].numpy(), [[-0.8, 0.0], [0.8, 0.5]], atol=1e-6)
    np.testing.assert_allclose(loss.d_ref[order].numpy(), [0.1, 0.08], atol=1e-6)
    assert loss.center_counts[order].tolist() == [4, 5]
    # a fake near the right cluster is held to it: distance 0.3, excess 0.3 - 0.08
    value = loss(points((0.8, 0.8)).requires_grad_())
    assert value.item() == pytest.approx(0.3 - 0.08, rel=1e-5)


def test_per_class_centres_use_labels() -> None:
    images, labels = two_clusters()
    loss = CentroidLoss(PointFeatures(), per_class=True, weight=1.0, progress=False)
    loss.fit(TensorDataset(images, labels))
    assert loss.classes.tolist() == [0, 1]
    np.testing.assert_allclose(loss.center.numpy(), [[-0.8, 0.0], [0.8, 0.5]], atol=1e-6)
    # with label 0 the fake is held to the left centre even though the right one is nearer
    fake = points((0.8, 0.8)).requires_grad_()
    held_left = loss(fake, labels=torch.tensor([0])).item()
    assert held_left == pytest.approx(math.hypot(1.6, 0.8) - 0.1, rel=1e-5)
    with pytest.raises(ValueError, match="per_class=True needs labels"):
        CentroidLoss(PointFeatures(), per_class=True, progress=False).fit(images)


def test_distances_are_float32_under_bfloat16_autocast() -> None:
    space = LinearFeatures()
    loss = CentroidLoss(space, weight=1.0, progress=False).fit(random_images(30))
    fake = random_images(8, seed=3) * 2
    fake = fake.clamp(-1, 1).requires_grad_()
    reference = loss(fake)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        value = loss(fake)
    assert value.dtype == torch.float32
    assert value.item() == pytest.approx(reference.item(), rel=5e-2)


def test_state_dict_carries_the_statistics() -> None:
    space = LinearFeatures()
    loss = CentroidLoss(space, centers=2, progress=False).fit(random_images(20))
    state = loss.state_dict()
    assert {"center", "d_ref", "num_images"} <= set(state)
    restored = CentroidLoss(space, centers=2, progress=False)
    assert not restored.fitted
    restored.load_state_dict(state)
    assert restored.fitted
    torch.testing.assert_close(restored.center, loss.center)
    torch.testing.assert_close(restored.d_ref, loss.d_ref)
    assert "linear.weight" not in " ".join(state)  # backbone weights stay out of checkpoints


def test_registered_as_the_centroid_regularizer() -> None:
    space = LinearFeatures()
    regularizer = get_regularizer("centroid", feature_space=space, weight=0.2)
    assert isinstance(regularizer, CentroidLoss) and regularizer.weight == 0.2


# -- bad input ---------------------------------------------------------------------------------
def test_forward_before_fit_is_a_clear_error() -> None:
    with pytest.raises(NotFittedError, match=r"Call \.fit\(real_images\)"):
        CentroidLoss(LinearFeatures())(random_images(2))


def test_empty_data_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="yielded no images"):
        CentroidLoss(LinearFeatures(), progress=False).fit([])


def test_a_single_image_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        CentroidLoss(LinearFeatures(), progress=False).fit(random_images(1))


def test_identical_images_give_d_ref_zero_error() -> None:
    images = random_images(1).expand(6, -1, -1, -1)
    with pytest.raises(ValueError, match="d_ref = 0"):
        CentroidLoss(LinearFeatures(), progress=False).fit(images)


def test_nan_features_are_a_clear_error() -> None:
    class NaNFeatures(nn.Module):
        def forward(self, images: torch.Tensor) -> torch.Tensor:
            return images.flatten(1) * float("nan")

    with pytest.raises(ValueError, match="NaN or Inf features"):
        CentroidLoss(NaNFeatures(), progress=False).fit(random_images(4))


@pytest.mark.parametrize(
    ("images", "message"),
    [
        (random_images(4) * 127.5 + 127.5, r"expected \[-1, 1\]"),
        (random_images(4).add(1).mul(127.5).to(torch.uint8), "dtype torch.uint8"),
        (random_images(4).masked_fill(torch.rand(4, 3, 2, 2) > 0.5, float("nan")), "NaN"),
    ],
)
def test_bad_images_in_fit_are_clear_errors(images: torch.Tensor, message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        CentroidLoss(LinearFeatures(), progress=False).fit(images)


def test_one_shot_iterator_beyond_the_memory_budget_is_a_clear_error() -> None:
    batches = iter([random_images(4), random_images(4, seed=1)])
    with pytest.raises(ValueError, match="one-shot iterator"):
        CentroidLoss(LinearFeatures(), memory_budget=0, progress=False).fit(batches)


def test_one_shot_iterator_within_the_budget_works() -> None:
    images = random_images(8)
    space = LinearFeatures()
    loss = CentroidLoss(space, progress=False).fit(iter([images[:4], images[4:]]))
    assert float(loss.d_ref) == pytest.approx(numpy_reference(space, images)[1], rel=1e-6)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"weight": -1.0}, "weight must be"),
        ({"radius": "median"}, "radius must be"),
        ({"q": 1.5}, "q must be"),
        ({"centers": 0}, "centers must be"),
        ({"every": 0}, "every must be"),
        ({"preset": "papr"}, "Unknown preset"),
    ],
)
def test_invalid_options(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CentroidLoss(LinearFeatures(), **options)


def test_no_grad_call_warns_that_no_gradient_reaches_the_generator() -> None:
    loss = CentroidLoss(LinearFeatures(), progress=False).fit(random_images(10))
    with torch.no_grad(), pytest.warns(UserWarning, match="no gradient reaches the generator"):
        loss(random_images(3))
