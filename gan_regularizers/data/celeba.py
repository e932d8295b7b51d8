"""A local copy of CelebA (Liu et al., 2015), read with ``torchvision.datasets.CelebA``.

Nothing is downloaded (``download=False``): the user points ``celeba:ROOT`` at a folder holding
``ROOT/celeba/img_align_celeba/*.jpg`` and the annotation files torchvision checks
(``list_eval_partition.txt``, ``identity_CelebA.txt``, ``list_attr_celeba.txt``,
``list_bbox_celeba.txt``, ``list_landmarks_align_celeba.txt``). Images get DCGAN's preprocessing
(resize the shorter side to ``image_size``, centre crop, ``[-1, 1]``); labels are all 0.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import Dataset

from gan_regularizers.data.image_folder import dcgan_transform

EXPECTED_LAYOUT = (
    "ROOT/celeba/img_align_celeba/000001.jpg …, and ROOT/celeba/{list_eval_partition, "
    "identity_CelebA, list_attr_celeba, list_bbox_celeba, list_landmarks_align_celeba}.txt"
)
SPLITS = ("train", "valid", "test", "all")


class CelebAImages(Dataset):
    """CelebA images ``3×image_size×image_size`` in ``[-1, 1]`` from a local copy.

    Args:
        root: the folder that contains ``celeba/``.
        image_size: output side (the paper: 64).
        split: ``"train"``, ``"valid"``, ``"test"`` or ``"all"`` (default, as DCGAN).

    Raises:
        FileNotFoundError: the local copy is missing or incomplete.
    """

    def __init__(self, root: str | Path, image_size: int = 64, split: str = "all") -> None:
        if split not in SPLITS:
            raise ValueError(f"celeba: split must be one of {', '.join(SPLITS)}, got {split!r}.")
        from torchvision.datasets import CelebA

        self.name = f"celeba:{root}"
        self.image_size, self.channels = image_size, 3
        try:
            self._celeba = CelebA(
                str(Path(root).expanduser()),
                split=split,
                target_type=[],
                transform=dcgan_transform(image_size, 3),
                download=False,
            )
        except (RuntimeError, FileNotFoundError) as error:
            raise FileNotFoundError(
                f"celeba:{root}: no complete local CelebA copy found ({error}). Expected "
                f"{EXPECTED_LAYOUT}. gan-regularizers never downloads it: fetch it yourself "
                "from the CelebA website, or train on a plain folder with --data folder:PATH."
            ) from error

    def __len__(self) -> int:
        return len(self._celeba)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image, _ = self._celeba[index]
        return image, 0
