"""The mnist5k CSV is parsed once and cached as a tensor file (issue 15: fixed launch cost)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gan_regularizers.data import mnist5k


@pytest.fixture
def fake_parse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A cache in tmp_path and a fast stand-in for the CSV parse that counts its calls."""
    monkeypatch.setenv("GAN_REGULARIZERS_CACHE", str(tmp_path / "cache"))
    calls: list[int] = []

    def parse() -> tuple[np.ndarray, np.ndarray]:
        calls.append(1)
        images = np.arange(5000 * 28 * 28, dtype=np.int64).reshape(5000, 28, 28) % 251
        return images.astype(np.uint8), np.arange(5000, dtype=np.int64) % 10

    monkeypatch.setattr(mnist5k, "_parse_csv", parse)
    mnist5k._raw_arrays.cache_clear()
    yield calls
    mnist5k._raw_arrays.cache_clear()


def test_the_parse_runs_once_and_later_launches_read_the_tensor_file(
    fake_parse: list[int], tmp_path: Path
) -> None:
    first_images, first_labels = mnist5k._raw_arrays()
    (cached,) = (tmp_path / "cache" / "mnist5k").glob("mnist5k-*.pt")
    mnist5k._raw_arrays.cache_clear()  # a new launch
    images, labels = mnist5k._raw_arrays()
    assert len(fake_parse) == 1
    assert np.array_equal(images, first_images) and np.array_equal(labels, first_labels)
    assert images.dtype == np.uint8 and not images.flags.writeable
    cached.write_bytes(b"not a tensor file")  # damaged: parsed again and replaced
    mnist5k._raw_arrays.cache_clear()
    assert np.array_equal(mnist5k._raw_arrays()[0], first_images)
    assert len(fake_parse) == 2
    mnist5k._raw_arrays.cache_clear()
    mnist5k._raw_arrays()
    assert len(fake_parse) == 2


def test_an_unwritable_cache_only_costs_the_parse(
    fake_parse: list[int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("GAN_REGULARIZERS_CACHE", str(blocker))  # a file: no folder can be made
    with pytest.warns(UserWarning, match=r"could not cache the parsed mnist5k digits"):
        images, _ = mnist5k._raw_arrays()
    assert images.shape == (5000, 28, 28) and len(fake_parse) == 1
