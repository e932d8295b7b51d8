"""Datasets (synthetic, image folders with corrupt files, CelebA errors), DCGAN shapes, batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from gan_regularizers.data.image_folder import ImageFolderImages, UnreadableImagesWarning
from gan_regularizers.data.sources import DataSpecError, load_dataset
from gan_regularizers.data.synthetic import synthetic_images
from gan_regularizers.models.dcgan import DCGANDiscriminator, DCGANGenerator
from gan_regularizers.training.batch_stream import BatchStream


def write_png(path: Path, value: int, size: tuple[int, int] = (40, 30)) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size[1], size[0], 3), value, dtype=np.uint8)).save(path)


def test_synthetic_is_deterministic_in_range_and_labelled() -> None:
    first, second = synthetic_images(8, channels=3), synthetic_images(8, channels=3)
    assert torch.equal(first.images, second.images)
    assert first.images.shape == (8, 3, 32, 32)
    assert first.images.min() >= -1 and first.images.max() <= 1
    assert first.labels.tolist() == [0, 1, 2, 3, 0, 1, 2, 3]
    assert not torch.equal(first.images, synthetic_images(8, channels=3, seed=1).images)
    image, label = load_dataset("synthetic:num_images=4,channels=1", image_size=64)[3]
    assert image.shape == (1, 64, 64) and label == 3


def test_folder_skips_corrupt_files_and_reports_them(tmp_path: Path) -> None:
    write_png(tmp_path / "cats" / "a.png", 0)
    write_png(tmp_path / "cats" / "b.png", 255)
    write_png(tmp_path / "dogs" / "c.png", 51)
    (tmp_path / "dogs" / "broken.png").write_bytes(b"this is not a png at all")
    (tmp_path / "notes.txt").write_text("ignored: not an image suffix")
    with pytest.warns(UnreadableImagesWarning, match=r"skipped 1 unreadable .* of 4: dogs/broken"):
        dataset = ImageFolderImages(tmp_path, image_size=32)
    assert len(dataset) == 3
    assert [p.name for p in dataset.skipped] == ["broken.png"]
    images = [dataset[i] for i in range(3)]
    assert [label for _, label in images] == [0, 0, 1]
    assert all(image.shape == (3, 32, 32) for image, _ in images)
    # uint8 p → 2·p/255 − 1: black → −1, white → 1, 51 → −0.6
    assert torch.allclose(images[0][0], torch.full((3, 32, 32), -1.0))
    assert torch.allclose(images[1][0], torch.full((3, 32, 32), 1.0))
    assert torch.allclose(images[2][0], torch.full((3, 32, 32), 2 * 51 / 255 - 1), atol=1e-6)


def test_folder_resizes_shorter_side_and_centre_crops(tmp_path: Path) -> None:
    from PIL import Image

    pixels = np.full((20, 60, 3), 255, dtype=np.uint8)  # wide image, black bands at both ends
    pixels[:, :10] = pixels[:, 50:] = 0
    Image.fromarray(pixels).save(tmp_path / "wide.png")
    image, _ = ImageFolderImages(tmp_path, image_size=32)[0]
    # shorter side 20 → 32: width 96, black at 0..15 and 80..95; the centre crop 32..63 is white
    assert torch.allclose(image, torch.ones(3, 32, 32))


def test_folder_errors_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such folder"):
        ImageFolderImages(tmp_path / "missing")
    with pytest.raises(ValueError, match="holds no image files"):
        ImageFolderImages(tmp_path)
    (tmp_path / "x.png").write_bytes(b"garbage")
    with (
        pytest.warns(UnreadableImagesWarning),
        pytest.raises(ValueError, match="none of the 1 image files could be read"),
    ):
        ImageFolderImages(tmp_path)


def test_celeba_without_local_copy_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"no complete local CelebA copy.*never downloads"):
        load_dataset(f"celeba:{tmp_path}", image_size=64)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("imagenet", r"Unknown dataset 'imagenet'. Expected mnist5k, folder:PATH"),
        ("folder", r"folder needs a path"),
        ("mnist5k:train", r"mnist5k takes no argument"),
        ("synthetic:colour=1", r"synthetic accepts: num_images"),
        (
            "synthetic:num_images=0",
            r"num_images must be a positive integer, got 0\. synthetic "
            r"accepts .*e\.g\. synthetic:num_images=16",
        ),
        (
            "synthetic:num_classes=0",
            r"num_classes must be a positive integer, got 0\. .*"
            r"synthetic:num_classes=4",
        ),
    ],
)
def test_bad_data_specs(spec: str, expected: str) -> None:
    with pytest.raises(DataSpecError, match=expected):
        load_dataset(spec)


@pytest.mark.parametrize(("size", "channels"), [(32, 1), (32, 3), (64, 3)])
def test_dcgan_shapes_and_ranges(size: int, channels: int) -> None:
    torch.manual_seed(0)
    generator = DCGANGenerator(size, channels, z_dim=10, base_width=4)
    discriminator = DCGANDiscriminator(size, channels, base_width=4)
    images = generator(torch.randn(5, 10))
    assert images.shape == (5, channels, size, size)
    assert images.min() >= -1 and images.max() <= 1
    assert discriminator(images).shape == (5,)
    blocks = 3 if size == 32 else 4  # transposed convolutions after the first
    widths = [
        m.out_channels for m in generator.modules() if isinstance(m, torch.nn.ConvTranspose2d)
    ]
    assert widths == [4 * 2 ** (blocks - 1) // 2**i for i in range(blocks)] + [channels]


def test_dcgan_init_is_normal_002() -> None:
    torch.manual_seed(0)
    generator = DCGANGenerator(64, 3, base_width=64)
    weights = torch.cat([m.weight.flatten() for m in generator.modules()
                         if isinstance(m, torch.nn.ConvTranspose2d)])  # fmt: skip
    assert abs(weights.std().item() - 0.02) < 1e-3 and abs(weights.mean().item()) < 1e-4
    scales = torch.cat(
        [m.weight for m in generator.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    )
    assert abs(scales.mean().item() - 1.0) < 5e-3


def test_dcgan_rejects_bad_sizes_and_inputs() -> None:
    with pytest.raises(ValueError, match=r"supports image sizes \(32, 64\), got 48"):
        DCGANGenerator(48)
    with pytest.raises(ValueError, match=r"expects images of shape \(B, 3, 32, 32\)"):
        DCGANDiscriminator(32, 3, base_width=4)(torch.zeros(2, 1, 32, 32))


def test_batch_stream_resumes_mid_epoch_and_drops_the_partial_batch() -> None:
    dataset = synthetic_images(10)
    stream = BatchStream(dataset, batch_size=4, seed=3)
    straight = [b for _, b in zip(range(5), iter(stream), strict=False)]
    assert stream.state_dict()["epoch"] == 2 and stream.state_dict()["batch"] == 1
    first = BatchStream(dataset, batch_size=4, seed=3)
    head = [b for _, b in zip(range(3), iter(first), strict=False)]
    second = BatchStream(dataset, batch_size=4, seed=3)
    second.load_state_dict(first.state_dict())
    tail = [b for _, b in zip(range(2), iter(second), strict=False)]
    assert all(torch.equal(a, b) for a, b in zip(straight, head + tail, strict=True))
    # each epoch visits 8 of the 10 images (2 batches of 4), no image twice
    epoch = torch.cat(straight[:2]).flatten(1)
    assert len({tuple(row.tolist()) for row in epoch}) == 8
    with pytest.raises(Exception, match="batch_size 11 is larger than the dataset"):
        BatchStream(dataset, batch_size=11)
