"""Atomic checkpoints: everything needed to continue a run bit-exactly.

A checkpoint holds the generator, the discriminator, both optimisers, every regularizer's
``state_dict``, the RNG states (torch, CUDA, numpy, python and the latent sampler), the data order
(epoch and position), the fixed sample latents and the step. It is written to a temporary file in
the same folder, flushed to disk, then moved over the old one with ``os.replace``: a crash or kill
during the write leaves the previous checkpoint intact.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gan_regularizers.errors import CheckpointError
from gan_regularizers.files.statistics_files import atomic_torch_save
from gan_regularizers.files.torch_files import checked_torch_load

CHECKPOINT_NAME = "checkpoint.pt"
FORMAT = "gan-regularizers/checkpoint"
FORMAT_VERSION = 1


def save_atomic(state: Mapping[str, Any], path: str | Path) -> Path:
    """``torch.save(state)`` to ``path`` through a temporary file and ``os.replace``."""
    return atomic_torch_save(dict(state), path)


def remove_stale_temporaries(folder: str | Path) -> None:
    """Delete temporary checkpoint files left by a process that was killed mid-write."""
    for stale in Path(folder).glob(f".{CHECKPOINT_NAME}.*.tmp"):
        stale.unlink(missing_ok=True)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_atomic` (on the CPU; ``weights_only``)."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.is_file():
        raise CheckpointError(
            f"no checkpoint at {path}. Pass the run folder of an earlier `train` run (it holds "
            f"{CHECKPOINT_NAME} once the first checkpoint is written)."
        )
    state = checked_torch_load(
        path,
        FORMAT,
        error=CheckpointError,
        noun="training checkpoint",
        advice="Restore it from a copy, or start a new run.",
    )
    if state.get("version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format version {state.get('version')}; this gan-regularizers "
            f"reads version {FORMAT_VERSION}. Resume it with the version that wrote it."
        )
    return state


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
    """The inverse of :func:`capture_rng`."""
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
