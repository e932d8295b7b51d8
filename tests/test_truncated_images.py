"""A truncated or corrupt image in a folder is skipped and counted when the dataset is built,
not found hours into training."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gan_regularizers.data.image_folder import ImageFolderImages
from gan_regularizers.errors import GanRegularizersWarning, UnreadableImagesWarning


def _jpeg_bytes(seed: int, side: int = 40) -> bytes:
    pixels = (np.random.default_rng(seed).random((side, side, 3)) * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Three good JPEGs in ``a/``, one truncated in ``b/`` and a text file named like a PNG."""
    for index in range(3):
        (tmp_path / "a").mkdir(exist_ok=True)
        (tmp_path / "a" / f"good{index}.jpg").write_bytes(_jpeg_bytes(index))
    (tmp_path / "b").mkdir()
    whole = _jpeg_bytes(7)
    (tmp_path / "b" / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "b" / "notes.png").write_text("not an image")
    return tmp_path


def test_a_truncated_jpeg_passes_pils_verify_but_not_a_decode(folder: Path) -> None:
    """Why the scan decodes: ``verify()`` alone lets this file through."""
    with Image.open(folder / "b" / "truncated.jpg") as image:
        image.verify()
    with Image.open(folder / "b" / "truncated.jpg") as image, pytest.raises(OSError):
        image.load()


def test_the_scan_skips_and_counts_truncated_and_corrupt_files(folder: Path) -> None:
    with pytest.warns(UnreadableImagesWarning) as caught:
        dataset = ImageFolderImages(folder, image_size=32, channels=3)
    assert len(caught) == 1 and issubclass(caught[0].category, GanRegularizersWarning)
    message = str(caught[0].message)
    assert "skipped 2 unreadable or corrupt image file(s) of 5" in message
    assert "b/notes.png" in message and "b/truncated.jpg" in message
    assert sorted(p.name for p in dataset.skipped) == ["notes.png", "truncated.jpg"]
    assert len(dataset) == 3
    for index in range(len(dataset)):  # every image left decodes: training never meets the bad one
        image, label = dataset[index]
        assert image.shape == (3, 32, 32) and image.dtype == torch.float32
        assert float(image.min()) >= -1.0 and float(image.max()) <= 1.0
        assert label == 0  # all three sit in a/, the first sub-folder
    assert repr(dataset).endswith("3 images, 2 skipped)")


def test_a_file_truncated_after_the_scan_names_itself_when_read(folder: Path) -> None:
    with pytest.warns(UnreadableImagesWarning):
        dataset = ImageFolderImages(folder, image_size=32, channels=3)
    victim = dataset.files[1]
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2])
    with pytest.raises(OSError, match=f"could not decode {victim}.*Remove or replace the file"):
        dataset[1]
