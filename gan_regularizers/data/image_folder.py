"""Any tree of image files as a dataset, with DCGAN's preprocessing.

Each file is opened with PIL, converted to RGB (or L for ``channels=1``), resized so that its
shorter side is ``image_size`` and centre-cropped to ``image_size × image_size`` (as the DCGAN
reference code does for CelebA and LSUN), then mapped to ``[-1, 1]``: ``x = 2·(p / 255) − 1``.

Files that PIL cannot decode in full (corrupt, or truncated by an interrupted copy) are skipped
when the dataset is built: their count and the first few names are reported in an
``UnreadableImagesWarning`` and kept in
``ImageFolderImages.skipped``. The label of an
image is the index of its first-level sub-folder (sorted), or 0 for files directly in the root.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from gan_regularizers.errors import UnreadableImagesWarning

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm")
SHOWN_SKIPPED = 5


def dcgan_transform(image_size: int, channels: int) -> Any:
    """Resize (shorter side) + centre crop to ``image_size``, then ``[-1, 1]`` floats."""
    from torchvision import transforms

    mean = (0.5,) * channels
    return transforms.Compose(
        [
            transforms.Resize(image_size),
            transforms.CenterCrop(image_size),
            transforms.ToTensor(),
            transforms.Normalize(mean, mean),
        ]
    )


def _readable(path: Path) -> bool:
    """Whether PIL can decode the whole file.

    ``verify()`` checks the structure (a PNG's checksums) but not that the pixel data is all
    there: a truncated JPEG passes it and fails only when decoded, possibly hours into training.
    So the file is also decoded in full here, once, when the dataset is built.
    """
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.verify()
        with Image.open(path) as image:
            image.load()
        return True
    except Exception:  # PIL raises many types for a broken file
        return False


class ImageFolderImages(Dataset):
    """Every image file under ``root`` (recursively), ``channels×image_size×image_size``.

    Args:
        root: the folder.
        image_size: output side (32 or 64 for DCGAN).
        channels: 3 (RGB) or 1 (grayscale).

    Raises:
        FileNotFoundError: ``root`` is not a folder.
        ValueError: no readable image was found.
    """

    def __init__(self, root: str | Path, image_size: int = 64, channels: int = 3) -> None:
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise FileNotFoundError(
                f"folder:{root}: no such folder. Pass the path of a folder of images, e.g. "
                "--data folder:/data/faces."
            )
        if channels not in (1, 3):
            raise ValueError(f"folder:{root}: channels must be 1 or 3, got {channels!r}.")
        self.name = f"folder:{root}"
        self.image_size, self.channels = image_size, channels
        candidates = sorted(
            p for p in self.root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
        )
        if not candidates:
            raise ValueError(
                f"folder:{root} holds no image files (looked for {', '.join(IMAGE_SUFFIXES)} "
                "in every sub-folder). Point --data at the folder that contains the images."
            )
        self.files = [p for p in _progress(candidates, "checking images") if _readable(p)]
        readable = set(self.files)
        self.skipped = [p for p in candidates if p not in readable]
        if self.skipped:
            names = ", ".join(str(p.relative_to(self.root)) for p in self.skipped[:SHOWN_SKIPPED])
            more = (
                f" and {len(self.skipped) - SHOWN_SKIPPED} more"
                if len(self.skipped) > SHOWN_SKIPPED
                else ""
            )
            warnings.warn(
                f"folder:{root}: skipped {len(self.skipped)} unreadable or corrupt image file(s) "
                f"of {len(candidates)}: {names}{more}.",
                UnreadableImagesWarning,
                stacklevel=2,
            )
        if not self.files:
            raise ValueError(
                f"folder:{root}: none of the {len(candidates)} image files could be read "
                f"(e.g. {candidates[0].name}). Check that they are valid images."
            )
        classes = sorted(
            {p.relative_to(self.root).parts[0] for p in self.files if _nested(p, self)}
        )
        index = {name: i for i, name in enumerate(classes)}
        self.labels = [
            index[p.relative_to(self.root).parts[0]] if _nested(p, self) else 0 for p in self.files
        ]
        self._transform = dcgan_transform(image_size, channels)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        from PIL import Image

        path = self.files[index]
        try:
            with Image.open(path) as image:
                image = image.convert("RGB" if self.channels == 3 else "L")
        except Exception as error:
            raise OSError(
                f"{self.name}: could not decode {path} ({type(error).__name__}: {error}); it "
                "passed the check when the dataset was built. Remove or replace the file."
            ) from error
        return self._transform(image), self.labels[index]

    def __repr__(self) -> str:
        skipped = len(self.skipped)
        return f"ImageFolderImages({str(self.root)!r}, {len(self)} images, {skipped} skipped)"


def _nested(path: Path, dataset: ImageFolderImages) -> bool:
    return len(path.relative_to(dataset.root).parts) > 1


def _progress(items: list[Path], description: str) -> Iterable[Path]:
    if len(items) < 2000:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=description, unit="file")
