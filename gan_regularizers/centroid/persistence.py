"""The centroid's statistics on disk and in checkpoints: save, load, the cache, the checks.

A statistics file (``torch.save``, read back with ``weights_only=True``) holds the format, the
fitted space's descriptor, the feature space's name and options, the options of
``file_options`` (λ and the schedules
included) and the buffers. Loading checks the descriptor and the statistics options against the
loss it fills, as ``load_state_dict`` does with the descriptor a checkpoint records.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from gan_regularizers._version import __version__
from gan_regularizers.centroid.options import PRESETS, CentroidOptions
from gan_regularizers.centroid.state import STATE_BUFFERS
from gan_regularizers.data.batches import is_reiterable, iterate_batches
from gan_regularizers.errors import CacheWarning, FitDataError
from gan_regularizers.files.cache import data_identity, entry_path, read_entry, write_entry
from gan_regularizers.files.statistics_files import descriptor_differences
from gan_regularizers.files.torch_files import (
    StatisticsFileError,
    atomic_torch_save,
    checked_torch_load,
)

if TYPE_CHECKING:
    from gan_regularizers.centroid.loss import CentroidLoss

FILE_FORMAT = "gan-regularizers/centroid-statistics"
FILE_FORMAT_VERSION = 2  # 2: options carry weight, warmup_steps, every, normalize; image_size


def encode_record(
    descriptor: dict[str, Any], options: CentroidOptions, device: torch.device | None = None
) -> torch.Tensor:
    """The fitted space's descriptor and statistics options as a uint8 tensor (JSON bytes).

    A tensor, so that checkpoints stay plain tensor state dicts.
    """
    record = {"descriptor": descriptor, "options": options.statistics_options()}
    data = json.dumps(record, sort_keys=True, default=str).encode()
    return torch.tensor(list(data), dtype=torch.uint8, device=device)


def decode_record(tensor: torch.Tensor) -> dict[str, Any] | None:
    """``encode_record``'s dict, or ``None`` for an empty tensor (not fitted, or older)."""
    if tensor.numel() == 0:
        return None
    return json.loads(bytes(tensor.detach().cpu().tolist()).decode())


def payload(loss: CentroidLoss) -> dict[str, Any]:
    """What ``save`` and the cache write."""
    state = {name: getattr(loss, name).detach().cpu() for name in STATE_BUFFERS}
    state["num_images"] = loss.num_images.detach().cpu()  # for readers; derived on load
    return {
        "format": FILE_FORMAT,
        "format_version": FILE_FORMAT_VERSION,
        "package_version": __version__,
        "descriptor": loss.fitted_descriptor or loss.descriptor,
        "feature_space": loss.feature_space_name,
        "feature_space_options": loss.feature_space_options,
        "options": loss.options.file_options(),
        "state": state,
    }


def save(loss: CentroidLoss, path: str | Path) -> Path:
    """Write ``loss``'s statistics file atomically."""
    return atomic_torch_save(payload(loss), path)


def load(
    cls: type[CentroidLoss],
    path: str | Path,
    feature_space: str | nn.Module | None,
    options: dict[str, Any],
) -> CentroidLoss:
    """A ``cls`` built from the file's space and options (the call's options win), then filled."""
    stored_payload = checked_torch_load(path, FILE_FORMAT)
    space = feature_space if feature_space is not None else stored_payload["feature_space"]
    if space is None:
        raise StatisticsFileError(
            f"{path} was fitted with a custom feature-space module; pass it as "
            "CentroidLoss.load(path, feature_space=module)."
        )
    own, space_overrides = CentroidOptions.split(options)
    stored = {k: v for k, v in stored_payload["options"].items() if k in CentroidOptions.names()}
    merged = {**stored, **own}
    if "preset" in own:  # a preset given in the call decides the projection anew
        merged.pop("projection", None)
    space_options = dict(stored_payload["feature_space_options"]) if feature_space is None else {}
    if merged.get("preset") is not None:
        for key in PRESETS[merged["preset"]]["feature_space_options"]:
            space_options.pop(key, None)
    space_options.update(space_overrides)
    loss = cls(space, **merged, **space_options)
    load_payload(loss, stored_payload, str(path))
    return loss


def check_source(
    loss: CentroidLoss, descriptor: dict[str, Any] | None, options: dict[str, Any], source: str
) -> None:
    """Refuse statistics fitted in another space or with other statistics options."""
    if descriptor is not None:
        differences = descriptor_differences(descriptor, loss.descriptor)
        if differences:
            raise StatisticsFileError(
                f"{source} was fitted in a different feature space; refusing to apply it. "
                f"Differences: {'; '.join(differences)}. Fit the statistics again in this space."
            )
    current = loss.options.statistics_options()
    for name, value in current.items():
        if name in options and options[name] != value:
            raise StatisticsFileError(
                f"{source} was fitted with {name}={options[name]!r} but this loss has "
                f"{name}={value!r}. Fit again or match it."
            )


def load_payload(loss: CentroidLoss, stored: dict[str, Any], source: str) -> None:
    """Fill ``loss`` from a statistics payload after checking where it came from."""
    check_source(loss, stored["descriptor"], stored["options"], source)
    state = dict(stored["state"])
    state.setdefault("image_size", torch.zeros(0, dtype=torch.int64))  # format 1
    state["fitted_space"] = encode_record(stored["descriptor"], loss.options)
    missing = [name for name in STATE_BUFFERS if name not in state]
    if missing:
        raise StatisticsFileError(f"{source} lacks {', '.join(missing)}; fit again.")
    device = loss.steps.device
    for name in STATE_BUFFERS:
        setattr(loss, name, state[name].to(device))


def check_state(loss: CentroidLoss, state_dict: dict[str, Any], prefix: str) -> None:
    """``load_state_dict``'s check: the checkpoint's recorded descriptor and options."""
    recorded = state_dict.get(prefix + "fitted_space")
    record = decode_record(recorded) if isinstance(recorded, torch.Tensor) else None
    if record is None:
        return  # unfitted, or a checkpoint written before descriptors were recorded
    check_source(loss, record["descriptor"], record["options"], "the state dict's statistics")


def fit_through_cache(
    loss: CentroidLoss,
    data: Any,
    max_images: int | None,
    batch_size: int,
    cache_key: str | None,
) -> CentroidLoss:
    """Load the statistics from the cache, or fit and store them (see ``CentroidLoss.fit``)."""
    if cache_key is None and not is_reiterable(data):
        raise FitDataError(
            "fit(cache=True) hashes the images before fitting, which would use up a one-shot "
            "iterator and leave nothing to fit. Pass a Dataset, DataLoader or tensor, name the "
            "data with cache_key='...', or use cache=False."
        )
    images = None
    if cache_key is None:
        images = (batch.images for batch in iterate_batches(data, batch_size, max_images))
    key = {
        "descriptor": loss.descriptor,
        "data": data_identity(images, cache_key, max_images),
        "options": loss.options.statistics_options(),
    }
    path = entry_path("centroid", key)
    stored = read_entry(path, FILE_FORMAT)
    if stored is not None:
        try:
            load_payload(loss, stored, str(path))
            return loss
        except (StatisticsFileError, KeyError) as error:  # the same on every rank
            warnings.warn(f"ignoring an unusable cache entry: {error}", CacheWarning, stacklevel=3)
    loss.fit_now(data, max_images, batch_size)
    write_entry(path, payload(loss))
    return loss
