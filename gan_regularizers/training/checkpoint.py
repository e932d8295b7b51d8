"""Atomic checkpoints: everything needed to continue a run bit-exactly.

A checkpoint holds the generator, the discriminator, both optimisers, every regularizer's
``state_dict``, the RNG states (torch, CUDA, numpy, python and the latent sampler), the data order
(epoch and position), the fixed sample latents and the step. It is written to a temporary file in
the same folder, flushed to disk, then moved over the old one with ``os.replace``: a crash or kill
during the write leaves the previous checkpoint intact.

Each checkpoint also stores ``sha256``, a digest of its whole content (every tensor's bytes, dtype
and shape, every other value), and the ``package_version`` that wrote it. Reading it back
recomputes the digest: torch checks no CRC on tensor data, so a damaged file (flipped bytes
inside a weight) would otherwise resume silently. The checkpoint it replaces is kept as
``checkpoint.previous.pt`` (a hard link, no copy), so a damaged file names a good one to go back
to.
"""

from __future__ import annotations

import hashlib
import os
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gan_regularizers._version import __version__
from gan_regularizers.errors import CheckpointError
from gan_regularizers.files.torch_files import atomic_torch_save, checked_torch_load
from gan_regularizers.training.config import config_keys

CHECKPOINT_NAME = "checkpoint.pt"
PREVIOUS_NAME = "checkpoint.previous.pt"
FORMAT = "gan-regularizers/checkpoint"
FORMAT_VERSION = 1
DIGEST_KEY = "sha256"


def _feed(digest: Any, value: Any) -> None:
    """Feed ``value`` to ``digest`` in a canonical order (mapping keys sorted as strings)."""
    if isinstance(value, torch.Tensor):
        data = value.detach().cpu().contiguous().reshape(-1).view(torch.uint8)
        digest.update(f"T{value.dtype}{tuple(value.shape)}:".encode())
        digest.update(data.numpy().tobytes())
    elif isinstance(value, Mapping):
        digest.update(b"{")
        for key in sorted(value, key=str):
            digest.update(f"{key!r}=".encode())
            _feed(digest, value[key])
        digest.update(b"}")
    elif isinstance(value, (list, tuple)):
        digest.update(b"[")
        for item in value:
            _feed(digest, item)
        digest.update(b"]")
    else:
        digest.update(f"{type(value).__name__}:{value!r};".encode())


def content_sha256(state: Mapping[str, Any]) -> str:
    """sha256 of a checkpoint's content, without its own ``sha256`` entry."""
    digest = hashlib.sha256()
    _feed(digest, {k: v for k, v in state.items() if k != DIGEST_KEY})
    return digest.hexdigest()


def save_atomic(state: Mapping[str, Any], path: str | Path) -> Path:
    """``torch.save(state)`` with its content digest, through a temporary file and ``os.replace``.

    An existing checkpoint at ``path`` is kept as ``checkpoint.previous.pt`` beside it.
    """
    path = Path(path)
    payload = {**state, "package_version": __version__}
    payload[DIGEST_KEY] = content_sha256(payload)
    if path.is_file():
        _keep_previous(path)
    return atomic_torch_save(payload, path)


def _keep_previous(path: Path) -> None:
    """Hard-link the current checkpoint as the previous one (skipped where links are refused)."""
    previous = path.with_name(PREVIOUS_NAME)
    try:
        previous.unlink(missing_ok=True)
        os.link(path, previous)
    except OSError:
        pass  # a file system without hard links: only the current checkpoint is kept


def remove_stale_temporaries(folder: str | Path) -> None:
    """Delete temporary checkpoint files left by a process that was killed mid-write."""
    for stale in Path(folder).glob(f".{CHECKPOINT_NAME}.*.tmp"):
        stale.unlink(missing_ok=True)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint written by ``save_atomic`` (on the CPU; ``weights_only``), checked.

    Raises:
        CheckpointError: no checkpoint; not readable; another format version; content that does
            not match its stored sha256 (a damaged file: the message names the previous
            checkpoint when that one is good); config keys this version does not know (the
            message names the version that wrote it).
    """
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.is_file():
        previous = _good_previous(path)
        kept = f" {previous}" if previous else ""
        raise CheckpointError(
            f"no checkpoint at {path}. Pass the run folder of an earlier `train` run (it holds "
            f"{CHECKPOINT_NAME} once the first checkpoint is written).{kept}"
        )
    state = _read(path)
    if state.get("version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format version {state.get('version')} and was written by "
            f"{_writer(state)}; this gan-regularizers ({__version__}) reads version "
            f"{FORMAT_VERSION}. Resume it with the version that wrote it."
        )
    _check_config_keys(state, path)
    return state


def _read(path: Path) -> dict[str, Any]:
    """The checked file's state, its digest verified (the previous checkpoint named if not)."""
    try:
        state = checked_torch_load(
            path,
            FORMAT,
            error=CheckpointError,
            noun="training checkpoint",
            advice="Restore it from a copy, or start a new run.",
        )
    except CheckpointError as error:
        previous = _good_previous(path)
        if previous:
            raise CheckpointError(f"{error} {previous}") from error.__cause__
        raise
    stored = state.get(DIGEST_KEY)
    if stored is not None and stored != content_sha256(state):
        previous = _good_previous(path) or (
            "No earlier checkpoint of this run is kept: restore the file from a copy, or start "
            "a new run."
        )
        raise CheckpointError(
            f"{path} is damaged: its content does not match the sha256 stored when it was "
            f"written (the file changed on disk after it was saved), so it is not resumed. "
            f"{previous}"
        )
    return state


def _good_previous(path: Path) -> str | None:
    """Advice naming ``checkpoint.previous.pt`` beside ``path`` when it reads back intact."""
    previous = path.with_name(PREVIOUS_NAME)
    if path.name == PREVIOUS_NAME or not previous.is_file():
        return None
    try:
        state = checked_torch_load(previous, FORMAT, error=CheckpointError)
    except CheckpointError:
        return None
    if state.get(DIGEST_KEY) not in (None, content_sha256(state)):
        return None
    return (
        f"The previous checkpoint {previous} (step {state.get('step')}) is intact: move it over "
        f"{path.name} (mv {previous} {path}) and resume from step {state.get('step')}."
    )


def _writer(state: Mapping[str, Any]) -> str:
    version = state.get("package_version")
    if version is None:
        return "a gan-regularizers version that did not record its number"
    return f"gan-regularizers {version}"


def _check_config_keys(state: Mapping[str, Any], path: Path) -> None:
    """Config keys this version does not know: the checkpoint is from another version."""
    config = state.get("config")
    if not isinstance(config, Mapping):
        raise CheckpointError(f"{path} holds no training config; it is not a complete checkpoint.")
    unknown = sorted(set(config) - set(config_keys()))
    if unknown:
        raise CheckpointError(
            f"{path} was written by {_writer(state)} and its config holds key(s) this "
            f"gan-regularizers ({__version__}) does not know: {', '.join(unknown)}. Resume or "
            "load it with the version that wrote it (pip install that version), or start a new "
            "run with this one."
        )


def capture_rng(latent_generator: torch.Generator) -> dict[str, Any]:
    """Every random state the loop may draw from, as tensors and plain Python values."""
    kind, keys, position, has_gauss, gauss = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), position, has_gauss, gauss],
        "python": random.getstate(),
        "latent": latent_generator.get_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: Mapping[str, Any], latent_generator: torch.Generator) -> None:
    """The inverse of ``capture_rng``."""
    torch.set_rng_state(state["torch"])
    kind, keys, position, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss, gauss))
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    latent_generator.set_state(state["latent"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def load_module_state(module: torch.nn.Module, state: Mapping[str, torch.Tensor]) -> None:
    """``load_state_dict`` that also accepts buffers whose shape differs from the module's.

    A regularizer that was not fitted yet may hold placeholder buffers (e.g. an empty centre);
    the checkpoint's fitted buffers replace them.
    """
    own = dict(module.named_buffers())
    for name, value in state.items():
        if name in own and own[name].shape != value.shape:
            owner_name, _, leaf = name.rpartition(".")
            owner = module.get_submodule(owner_name) if owner_name else module
            owner._buffers[leaf] = value.to(own[name].device, own[name].dtype)
    module.load_state_dict(dict(state))
