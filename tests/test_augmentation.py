"""DiffAugment's ops against hand computations (same random draws), their ranges and measured
translation/cutout fractions, gradients, seeding, and the adaptive probability's update rule,
alone and through the training loop (p rises when D overfits, is logged and resumes exactly)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from tiny_runs import TINY

from gan_regularizers import get_augmentation
from gan_regularizers.errors import InvalidOptionError
from gan_regularizers.plugins.diffaugment import DiffAugment, color, cutout, translation
from gan_regularizers.training.checkpoint import load_checkpoint
from gan_regularizers.training.loop import train
from gan_regularizers.training.metrics_log import read_metrics


def images(n: int = 8, channels: int = 3, height: int = 16, width: int = 16, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(n, channels, height, width, generator=generator) * 2 - 1


def test_color_is_brightness_then_saturation_then_contrast_with_the_same_draws() -> None:
    x = images(4).double()
    out = color(x, generator=torch.Generator().manual_seed(5))
    draws = torch.Generator().manual_seed(5)
    u = [torch.rand(4, 1, 1, 1, generator=draws, dtype=torch.float64) for _ in range(3)]
    expected = x + (u[0] - 0.5)  # brightness: a shift in [-0.5, 0.5]
    channel_mean = expected.mean(dim=1, keepdim=True)
    expected = (expected - channel_mean) * (2 * u[1]) + channel_mean  # saturation ×[0, 2]
    mean = expected.mean(dim=(1, 2, 3), keepdim=True)
    expected = (expected - mean) * (u[2] + 0.5) + mean  # contrast ×[0.5, 1.5]
    torch.testing.assert_close(out, expected)


def test_color_on_a_flat_grey_image_is_only_a_brightness_shift_within_half() -> None:
    flat = torch.full((512, 3, 4, 4), 0.2)
    out = color(flat, generator=torch.Generator().manual_seed(0))
    shift = out - 0.2
    per_sample = shift.flatten(1)
    assert torch.allclose(per_sample, per_sample[:, :1].expand_as(per_sample), atol=1e-6)
    assert shift.abs().max() <= 0.5
    assert shift.min() < -0.45 and shift.max() > 0.45  # the whole ±0.5 range is used


def shifted(image: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """``out[y, x] = image[y + dy, x + dx]``, zero outside: the definition, written with loops."""
    out = torch.zeros_like(image)
    _, height, width = image.shape
    for y in range(height):
        for x in range(width):
            if 0 <= y + dy < height and 0 <= x + dx < width:
                out[:, y, x] = image[:, y + dy, x + dx]
    return out


def test_translation_shifts_by_at_most_an_eighth_and_fills_with_zeros() -> None:
    x = images(48, height=16, width=8) + 2  # strictly positive, so padding zeros are visible
    out = translation(x, generator=torch.Generator().manual_seed(1))
    seen = set()
    for image, result in zip(x, out, strict=True):
        matches = [
            (dy, dx)
            for dy in range(-2, 3)  # round(16 / 8) = 2 rows
            for dx in range(-1, 2)  # round(8 / 8) = 1 column
            if torch.equal(result, shifted(image, dy, dx))
        ]
        assert len(matches) == 1, "every output is one shift of its input"
        seen.add(matches[0])
    assert {dy for dy, _ in seen} == {-2, -1, 0, 1, 2} and {dx for _, dx in seen} == {-1, 0, 1}


def clipped_lengths(size: int, extent: int) -> list[int]:
    """The cutout's side inside an image of ``extent`` pixels, for each possible centre."""
    centres = range(extent + (1 - size % 2))
    return [min(c - size // 2 + size, extent) - max(c - size // 2, 0) for c in centres]


def test_cutout_zeros_one_square_of_half_the_size_and_its_measured_fraction_matches() -> None:
    ones = torch.ones(4000, 1, 16, 16)
    out = cutout(ones, generator=torch.Generator().manual_seed(2))
    zero = out == 0
    rows, cols = zero.any(dim=3).sum(dim=(1, 2)), zero.any(dim=2).sum(dim=(1, 2))
    # the zeros form one axis-aligned rectangle of at most 8×8 (clipped by the border)
    assert torch.equal(zero.sum(dim=(1, 2, 3)), rows * cols)
    assert rows.max() == 8 and cols.max() == 8
    lengths = clipped_lengths(8, 16)
    expected = (sum(lengths) / len(lengths)) ** 2 / 256  # independent centres in y and x
    measured = zero.float().mean().item()
    assert measured == pytest.approx(expected, abs=0.005)
    assert set(out.unique().tolist()) == {0.0, 1.0}


@pytest.mark.parametrize("policy", ["color", "translation", "cutout", "color,translation,cutout"])
@pytest.mark.parametrize("shape", [(2, 3, 16, 16), (3, 1, 12, 20)])
def test_every_policy_keeps_the_shape_and_passes_gradients(policy: str, shape) -> None:
    x = images(*shape).requires_grad_(True)
    out = get_augmentation("diffaugment", policy=policy)(x)
    assert out.shape == x.shape and out.dtype == x.dtype
    (out * torch.linspace(0, 1, out.numel()).view_as(out)).sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_randomness_comes_from_the_global_rng_or_an_explicit_generator() -> None:
    augment = get_augmentation("diffaugment")
    torch.manual_seed(7)
    first = augment(images())
    torch.manual_seed(7)
    assert torch.equal(augment(images()), first)
    assert not torch.equal(augment(images()), first)  # the RNG advanced
    seeded = [DiffAugment(generator=torch.Generator().manual_seed(3))(images()) for _ in range(2)]
    assert torch.equal(*seeded)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"policy": "colour"}, r"unknown op\(s\) colour; choose from color, translation, cutout"),
        ({"policy": ""}, r"is empty"),
        ({"policy": ["color", "flip"]}, r"unknown op\(s\) flip"),
        ({"target": 2.0}, r"target must lie in \[-1.0, 1.0\]"),
        ({"interval": 0}, r"interval must be an integer ≥ 1"),
        ({"adaptive": "yes"}, r"adaptive must be true or false"),
        ({"initial_p": 1.5}, r"initial_p must lie in \[0.0, 1.0\]"),
        ({"p": -0.1}, r"p must lie in \[0.0, 1.0\]"),
        ({"p": 0.5, "adaptive": True}, r"p and adaptive=true contradict each other"),
    ],
)
def test_invalid_options_are_clear_errors(options: dict, expected: str) -> None:
    with pytest.raises(InvalidOptionError, match=expected):
        get_augmentation("diffaugment", **options)


def test_policy_given_as_a_list_or_string_is_the_same() -> None:
    assert DiffAugment(policy=["cutout", "color"]).policy == DiffAugment("cutout, color").policy


def test_a_batch_that_is_not_four_dimensional_is_refused() -> None:
    with pytest.raises(InvalidOptionError, match=r"B×C×H×W batch, got shape \(3, 16, 16\)"):
        DiffAugment()(torch.zeros(3, 16, 16))


def test_adaptive_p_starts_at_zero_and_leaves_images_unchanged() -> None:
    augment = DiffAugment(adaptive=True)
    x = images()
    assert augment.p.item() == 0.0 and torch.equal(augment(x), x)
    assert DiffAugment(adaptive=True, initial_p=1.0)(x).ne(x).any()


def test_adaptive_p_follows_the_ada_rule() -> None:
    # batch 4, interval 2, ada_kimg 0.1: each adjustment moves p by 8 / 100 = 0.08
    augment = DiffAugment(adaptive=True, ada_kimg=0.1, interval=2, target=0.6)
    confident = torch.tensor([2.0, 1.0, 3.0, -1.0])  # signs: r_t = 0.5 < 0.6 → p goes down
    overfit = torch.tensor([2.0, 1.0, 3.0, 0.5])  # r_t = 1 > 0.6 → p goes up
    expected_p = []
    for logits, change in [(overfit, 0.08)] * 3 + [(confident, -0.08)] * 4:
        for _ in range(2):
            augment.update(logits)
        previous = expected_p[-1] if expected_p else 0.0
        expected_p.append(min(max(previous + change, 0.0), 1.0))
        assert augment.p.item() == pytest.approx(expected_p[-1], abs=1e-6)
    assert expected_p[-1] == 0.0  # clamped at 0
    assert augment.diagnostics == {"p": 0.0, "r_t": pytest.approx(0.5)}
    augment.update(overfit)  # half an interval: no change yet
    assert augment.p.item() == 0.0


def test_adaptive_state_round_trips_through_state_dict() -> None:
    augment = DiffAugment(adaptive=True, ada_kimg=0.1, interval=2)
    for _ in range(3):
        augment.update(torch.ones(4))
    restored = DiffAugment(adaptive=True, ada_kimg=0.1, interval=2)
    restored.load_state_dict(augment.state_dict())
    for module in (augment, restored):
        module.update(torch.ones(4))
    assert restored.p.item() == augment.p.item() == pytest.approx(0.16)
    assert set(augment.state_dict()) == {"p", "sign_sum", "sign_count", "calls", "last_r_t"}


def test_without_adaptive_update_does_nothing_and_p_is_one() -> None:
    augment = DiffAugment()
    augment.update(torch.ones(4))
    assert augment.diagnostics == {"p": 1.0}


# -- adaptive DiffAugment through the training loop (it calls update after each D step) ----------
ADAPTIVE_RUN = {
    **TINY,
    "data": "synthetic:num_images=4",  # four images: D overfits within a few steps
    "batch_size": 4,
    "d_lr": 2e-3,
    "augment": "diffaugment:adaptive=true,ada_kimg=0.1",  # p moves by 4·4/100 per adjustment
    "log_every": 4,  # one row per adjustment (interval 4)
}


@pytest.fixture
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_adaptive_p_rises_in_training_by_the_ada_rule_and_is_logged(
    tmp_path: Path, one_thread: None
) -> None:
    train(**ADAPTIVE_RUN, steps=16, run_dir=str(tmp_path))
    rows = read_metrics(tmp_path)
    p, expected = 0.0, []
    for row in rows:  # ADA: p ← clamp(p + sign(r_t − 0.6) · batch · interval / (ada_kimg·1000))
        p = min(1.0, max(0.0, p + math.copysign(1.0, row["diag/augment/r_t"] - 0.6) * 16 / 100))
        expected.append(p)
    assert [row["diag/augment/p"] for row in rows] == pytest.approx(expected, abs=1e-6)
    assert rows[-1]["diag/augment/p"] >= 0.48  # D overfits (r_t > 0.6): p rises
    assert load_checkpoint(tmp_path)["augment"]["p"] == pytest.approx(expected[-1], abs=1e-6)


def test_adaptive_p_resumes_bit_exactly(tmp_path: Path, one_thread: None) -> None:
    straight = train(**ADAPTIVE_RUN, steps=12, run_dir=str(tmp_path / "straight"))
    train(**ADAPTIVE_RUN, steps=6, run_dir=str(tmp_path / "split"))  # mid-interval: 2 of 4 calls
    resumed = train(resume=tmp_path / "split", steps=12)
    a, b = load_checkpoint(tmp_path / "straight"), load_checkpoint(tmp_path / "split")
    assert float(a["augment"]["p"]) > 0
    assert all(torch.equal(a["augment"][k], b["augment"][k]) for k in a["augment"])
    for name in ("generator", "discriminator"):
        left, right = getattr(straight, name).state_dict(), getattr(resumed, name).state_dict()
        assert all(torch.equal(left[k], right[k]) for k in left), name


def test_a_fixed_p_applies_each_op_to_that_share_of_the_samples() -> None:
    """p = 0: nothing changes; p = 1: every sample is cut out; p = 0.3: measured 0.3 ± 0.03."""
    batch = images(n=2000, height=8, width=8, seed=5)
    assert torch.equal(DiffAugment("cutout", p=0.0)(batch), batch)
    every = DiffAugment("cutout", p=1.0)(batch)
    assert bool((every != batch).flatten(1).any(1).all())
    torch.manual_seed(0)
    some = DiffAugment("cutout", p=0.3)(batch)
    changed = (some != batch).flatten(1).any(1).double().mean().item()
    assert abs(changed - 0.3) < 0.03  # 2000 Bernoulli(0.3) draws: sd 0.010


def test_a_scheduled_p_reaches_the_augmentation_each_step(tmp_path: Path, one_thread) -> None:
    """``p=linear(0,1,4)``: p after step s − 1 is min(1, (s − 1)/4); logged and checkpointed."""
    train(**{**TINY, "augment": "diffaugment:p=linear(0,1,4)", "log_every": 1},
          steps=6, run_dir=str(tmp_path))  # fmt: skip
    rows = read_metrics(tmp_path)
    expected = [min(1.0, (step - 1) / 4) for step in range(1, 7)]
    assert [row["sched/augment/p"] for row in rows] == pytest.approx(expected)
    assert [row["diag/augment/p"] for row in rows] == pytest.approx(expected)
    assert float(load_checkpoint(tmp_path)["augment"]["p"]) == pytest.approx(1.0)
