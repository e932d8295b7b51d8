"""Save a whole run into ``checkpoint.pt`` and restore it, for a bit-exact continuation.

The checkpoint holds G, D, the EMA generator (``generator_ema``, when ``ema_decay > 0``), both Adam
states, every regularizer module's and the augmentation's ``state_dict`` (LeCam anchors,
adaptive-augmentation ``p``, a fitted centroid), each rank's random streams, the data position,
the fixed sample z, the step and the training time so far. File format: see
``gan_regularizers.training.checkpoint``.
"""

from __future__ import annotations

import contextlib
import errno
import warnings
from collections.abc import Iterator
from typing import Any

from gan_regularizers.distributed import all_gather_objects
from gan_regularizers.errors import CheckpointError, CheckpointWriteError
from gan_regularizers.training.checkpoint import (
    CHECKPOINT_NAME,
    FORMAT,
    FORMAT_VERSION,
    capture_rng,
    load_module_state,
    restore_rng,
    save_atomic,
)
from gan_regularizers.training.components import stateful
from gan_regularizers.training.networks import architecture_record
from gan_regularizers.training.run import Run


def run_state(run: Run, step: int, elapsed: float, every_rng: list[Any]) -> dict[str, Any]:
    """Everything ``restore_run`` needs, as tensors and plain values."""
    state: dict[str, Any] = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "step": step,
        "config": run.cfg.to_dict(),
        "generator": run.generator.state_dict(),
        "discriminator": run.discriminator.state_dict(),
        "g_optimizer": run.g_optimizer.state_dict(),
        "d_optimizer": run.d_optimizer.state_dict(),
        "regularizers": {
            name: module.state_dict()
            for name, module in stateful({t.name: t.module for t in run.terms.values()}).items()
        },
        "data": run.stream.state_dict(),
        "rng": every_rng[run.context.rank],
        "rng_per_rank": every_rng,
        "world_size": run.context.world_size,
        "fixed_z": run.fixed_z,
        "elapsed_s": elapsed,
        "schedules": dict(run.schedules.values),  # a record: they are functions of the step
    }
    state["architecture"] = architecture_record(run)
    if run.ema is not None:
        state["generator_ema"] = run.ema.state_dict()
    if run.augment_state is not None:
        state["augment"] = run.augment_state.state_dict()
    return state


def save_run(run: Run, step: int, elapsed: float) -> None:
    """Write the checkpoint of ``step`` (rank 0; every rank takes part in gathering the RNGs)."""
    rng = capture_rng(run.latent_generator)
    every_rng = all_gather_objects(rng) if run.context.world_size > 1 else [rng]
    if not run.context.is_main:
        return
    path = run.run_dir / CHECKPOINT_NAME
    try:
        save_atomic(run_state(run, step, elapsed, every_rng), path)
    except (OSError, RuntimeError) as error:
        failure = _write_error(run, step, error)
        if failure is None:
            raise
        raise failure from error
    run.saved_step = step


def _write_error(run: Run, step: int, error: BaseException) -> CheckpointWriteError | None:
    """A clear error for a failed write (full disk, unwritable folder), else None."""
    text = str(error).lower()
    full = getattr(error, "errno", None) == errno.ENOSPC or "unexpected pos" in text
    if not full and not isinstance(error, OSError):
        return None
    cause = "no space left on device" if full else f"{type(error).__name__}: {error}"
    kept = (
        f"The previous checkpoint (step {run.saved_step}) is kept"
        if run.saved_step is not None
        else "No earlier checkpoint exists"
    )
    return CheckpointWriteError(
        f"could not write the checkpoint of step {step} to {run.run_dir}: {cause}. {kept}. "
        f"Free space in {run.run_dir} (or its file system), then continue with "
        f"`gan-regularizers train --resume {run.run_dir}`."
    )


def restore_run(run: Run, state: dict[str, Any]) -> None:
    """Load a checkpoint's state into a freshly built run (before DDP wrapping).

    Raises:
        CheckpointError: the weights do not fit the networks the checkpoint's config describes.
    """
    with _fitting(run, "generator and discriminator"):
        run.generator.load_state_dict(state["generator"])
        run.discriminator.load_state_dict(state["discriminator"])
    with _fitting(run, "optimiser states"):
        run.g_optimizer.load_state_dict(state["g_optimizer"])
        run.d_optimizer.load_state_dict(state["d_optimizer"])
    # lr and betas (which a resume may change) are set from the config before every step
    modules = stateful({t.name: t.module for t in run.terms.values()})
    for name, module in modules.items():
        load_module_state(module, state["regularizers"].get(name, {}))
    if run.ema is not None:
        run.ema.load_state_dict(state.get("generator_ema", state["generator"]))
    if run.augment_state is not None and "augment" in state:
        load_module_state(run.augment_state, state["augment"])
    run.stream.load_state_dict(state["data"])
    restore_rank_rng(state, run.latent_generator, run.context.rank, run.context.world_size)
    run.fixed_z = state["fixed_z"]
    run.start_step = run.saved_step = run.step = int(state["step"])
    run.elapsed_before = float(state.get("elapsed_s", 0.0))


@contextlib.contextmanager
def _fitting(run: Run, what: str) -> Iterator[None]:
    """Turn torch's shape-mismatch error into a ``CheckpointError`` naming the config."""
    try:
        yield
    except (RuntimeError, ValueError, KeyError) as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        shown = "; ".join(lines[1:3] if len(lines) > 1 else lines)
        keys = ("architecture", "image_size", "z_dim", "num_classes")
        described = ", ".join(f"{k}={getattr(run.cfg, k)}" for k in keys if hasattr(run.cfg, k))
        raise CheckpointError(
            f"{run.run_dir / CHECKPOINT_NAME}: the saved {what} do not fit the networks its own "
            f"config describes ({described}): {shown}. The config inside the "
            "checkpoint was changed after it was written, or the file is not this run's. Resume "
            "a checkpoint as train wrote it, or start a new run."
        ) from error


def restore_rank_rng(
    state: dict[str, Any], latent_generator: Any, rank: int, world_size: int
) -> None:
    """Restore this rank's random streams; a checkpoint of another world size restores rank 0's.

    With a different number of processes the data order still continues exactly (it is global),
    but the latents are drawn per process and ranks ≥ 1 keep the streams seeded from
    ``rank_seed(seed, rank)``: the continuation is not bit-exact, and rank 0 warns.
    """
    per_rank = state.get("rng_per_rank")
    saved_world = int(state.get("world_size", 1))
    if per_rank is not None and len(per_rank) == world_size:
        restore_rng(per_rank[rank], latent_generator)
        return
    if rank == 0:
        restore_rng(state["rng"], latent_generator)
    if saved_world != world_size and rank == 0:
        warnings.warn(
            f"the checkpoint was written by {saved_world} process(es) and this run has "
            f"{world_size}: the data order continues exactly, but each process draws its own "
            "latents (ranks ≥ 1 from fresh streams), so the run is not a bit-exact "
            f"continuation. Resume with {saved_world} process(es) for that.",
            stacklevel=3,
        )
