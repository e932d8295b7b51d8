"""check_images: every bad batch a user can send gets an error that says what to do."""

from __future__ import annotations

import pytest
import torch

from gan_regularizers.checks.images import check_images
from gan_regularizers.errors import GanRegularizersError, InputTypeError, InputValueError


def images(*shape: int, low: float = -1.0, high: float = 1.0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return torch.rand(*shape, generator=generator) * (high - low) + low


def test_a_valid_batch_is_returned_unchanged() -> None:
    batch = images(2, 3, 8, 8)
    assert check_images(batch) is batch


def test_values_within_the_tolerance_pass() -> None:
    batch = images(2, 3, 8, 8)
    batch[0, 0, 0, 0] = 1.009
    batch[0, 0, 0, 1] = -1.009
    assert check_images(batch, tolerance=0.01) is batch


def test_not_a_tensor() -> None:
    with pytest.raises(TypeError, match=r"must be a torch.Tensor B×C×H×W, got ndarray"):
        check_images(images(2, 3, 4, 4).numpy())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("shape", "fix"),
    [
        ((3, 8, 8), "images.unsqueeze(0)"),
        ((1, 8, 8), "images.unsqueeze(0)"),
        (
            (64, 8, 8),
            "the channel dimension is missing. This looks like a batch of 64 grayscale images "
            "8×8 (N×H×W); add the channel with images.unsqueeze(1)",
        ),
        ((2, 2, 3, 8, 8), "images.flatten(0, 1)"),
        ((8, 8), "expected rank 4, B×C×H×W"),
    ],
)
def test_wrong_rank_names_the_shape_and_the_fix(shape: tuple[int, ...], fix: str) -> None:
    with pytest.raises(ValueError) as error:
        check_images(images(*shape), where="fake images")
    message = str(error.value)
    assert message.startswith(f"fake images have shape {shape} (rank {len(shape)})")
    assert fix in message


def test_one_channel_is_refused_unless_repeat_is_asked() -> None:
    gray = images(2, 1, 8, 8)
    with pytest.raises(ValueError, match=r"1 channel .* grayscale='repeat'"):
        check_images(gray)
    repeated = check_images(gray, grayscale="repeat")
    assert repeated.shape == (2, 3, 8, 8)
    for channel in range(3):
        assert torch.equal(repeated[:, channel], gray[:, 0])


@pytest.mark.parametrize("channels", [2, 4, 5])
def test_other_channel_counts_are_refused(channels: int) -> None:
    with pytest.raises(ValueError, match=rf"have {channels} channels .* expected 3 \(RGB\)"):
        check_images(images(2, channels, 8, 8))


@pytest.mark.parametrize("channels", [2, 4, 5])
def test_any_channels_returns_other_channel_counts_as_they_are(channels: int) -> None:
    batch = images(3, channels, 1, 1)  # e.g. 2-D points, B×2×1×1
    assert check_images(batch, any_channels=True) is batch
    with pytest.raises(ValueError, match="NaN"):  # the values are still checked
        check_images(torch.full((3, channels, 1, 1), float("nan")), any_channels=True)


def test_any_channels_still_repeats_grayscale() -> None:
    gray = images(2, 1, 4, 4)
    assert check_images(gray, grayscale="repeat", any_channels=True).shape == (2, 3, 4, 4)


def test_rgba_gets_the_drop_alpha_hint() -> None:
    with pytest.raises(ValueError, match=r"drop alpha with images\[:, :3\]"):
        check_images(images(2, 4, 8, 8))


def test_channels_last_arrays_get_the_permute_hint() -> None:
    with pytest.raises(ValueError, match=r"channels-last .* images.permute\(0, 3, 1, 2\)"):
        check_images(images(2, 8, 8, 3))


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int64])
def test_integer_images_say_to_convert_and_scale(dtype: torch.dtype) -> None:
    batch = torch.zeros(2, 3, 8, 8, dtype=dtype)
    with pytest.raises(TypeError, match=r"integer dtype .* images.float\(\) / 127.5 - 1"):
        check_images(batch)
    with pytest.raises(TypeError, match=r"images.float\(\) / 255"):
        check_images(batch, input_range=(0.0, 1.0))


def test_boolean_images_are_named_as_such() -> None:
    with pytest.raises(TypeError, match=r"boolean dtype torch.bool"):
        check_images(torch.zeros(2, 3, 8, 8, dtype=torch.bool))


def test_out_of_range_names_observed_min_max_and_expected_range() -> None:
    batch = images(2, 3, 8, 8)
    batch[0, 0, 0, 0] = 1.5
    batch[1, 2, 3, 3] = -1.25
    with pytest.raises(ValueError) as error:
        check_images(batch, where="fake images")
    message = str(error.value)
    assert "range over [-1.25, 1.5]" in message
    assert "declared input range [-1, 1]" in message
    assert "tanh" in message


def test_0_255_pixels_are_recognised() -> None:
    with pytest.raises(ValueError, match=r"range over \[0, 255\].*look like \[0, 255\] pixels"):
        batch = images(2, 3, 8, 8, low=0.0, high=255.0)
        batch[0, 0, 0, 0], batch[0, 0, 0, 1] = 0.0, 255.0
        check_images(batch)


def test_minus_one_one_images_sent_to_a_zero_one_space_name_input_range() -> None:
    batch = images(2, 3, 8, 8)
    batch[0, 0, 0, 0] = -1.0
    with pytest.raises(ValueError, match=r"declared input range \[0, 1\].*input_range=\(-1, 1\)"):
        check_images(batch, input_range=(0.0, 1.0))


@pytest.mark.parametrize(
    ("value", "words"), [(float("nan"), "1 NaN value"), (float("inf"), "1 infinite value")]
)
def test_nan_and_inf_are_refused(value: float, words: str) -> None:
    batch = images(2, 3, 8, 8)
    batch[1, 1, 1, 1] = value
    with pytest.raises(ValueError, match=words):
        check_images(batch)


def test_negative_infinity_is_refused_too() -> None:
    batch = images(2, 3, 8, 8)
    batch[0, 0, 0, 0] = float("-inf")
    with pytest.raises(ValueError, match="infinite"):
        check_images(batch)


def test_an_empty_batch_is_refused() -> None:
    with pytest.raises(ValueError, match=r"are empty \(shape \(0, 3, 8, 8\)\)"):
        check_images(torch.zeros(0, 3, 8, 8))


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        ([[0.0]], InputTypeError),
        (torch.zeros(2, 3, 4, 4, dtype=torch.uint8), InputTypeError),
        (torch.zeros(3, 4, 4), InputValueError),
        (torch.zeros(2, 1, 4, 4), InputValueError),
        (torch.full((2, 3, 4, 4), 200.0), InputValueError),
        (torch.full((2, 3, 4, 4), float("nan")), InputValueError),
    ],
)
def test_every_refusal_is_a_package_error_and_keeps_its_builtin(
    bad: object, error: type[Exception]
) -> None:
    """``except GanRegularizersError`` (the CLI) and ``except ValueError``/``TypeError`` work."""
    with pytest.raises(error) as caught:
        check_images(bad)  # type: ignore[arg-type]
    assert isinstance(caught.value, GanRegularizersError)
    builtin = TypeError if error is InputTypeError else ValueError
    assert isinstance(caught.value, builtin)


def test_any_channels_still_refuses_a_channels_last_batch() -> None:
    """``pixels`` would flatten B×H×W×C to the right size in the wrong order: refused."""
    batch = torch.zeros(2, 32, 32, 3)
    with pytest.raises(InputValueError, match=r"looks channels-last.*permute\(0, 3, 1, 2\)"):
        check_images(batch, any_channels=True)
    from gan_regularizers import get_feature_space

    with pytest.raises(InputValueError, match=r"looks channels-last"):
        get_feature_space("pixels")(batch)
