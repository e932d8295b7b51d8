"""``train``: the paper's Algorithm 1 with any loss, regularizers on both players, augmentation
and G-EMA, written into a run folder.

The pieces, each in its own module: the run is built from the config by
``run_builder``; one iteration is
``train_step``; the logged rows go through
``sinks``; checkpoints are saved and restored by
``checkpointer``. This module resolves the config (and a resume),
checks the run folder, runs the steps and writes the report.

Under torchrun G and D run in DistributedDataParallel and rank 0 alone writes the run folder
(see ``gan_regularizers.training.ddp`` and docs/distributed.md). A non-finite term stops
training with ``NonFiniteLossError`` naming the step and the term; the last checkpoint is kept.

Ctrl-C keeps the run (one process): the first SIGINT lets the current step finish, then a
checkpoint of that step is written (atomically, as every checkpoint) and a ``KeyboardInterrupt``
saying how to resume is raised; a ``KeyboardInterrupt`` raised at a step boundary (e.g. by a
plugin's ``set_step``) is handled the same way, and one raised in the middle of a step saves that
step's state under the last finished step, noting that the continuation is then not bit-exact.
On CPU, after the first few steps the loop prints how long the whole run will take when that is
over a minute (a 10,000-step paper-scale run on a laptop should say so before it is too late).
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gan_regularizers.distributed import (
    DistributedContext,
    DistributedError,
    broadcast_object,
    command_device,
    process_group,
)
from gan_regularizers.errors import NonFiniteLossError
from gan_regularizers.threads import torch_threads
from gan_regularizers.training.checkpoint import load_checkpoint, remove_stale_temporaries
from gan_regularizers.training.checkpointer import save_run
from gan_regularizers.training.components import split_regularizers, stateful
from gan_regularizers.training.config import (
    RESUMABLE_KEYS,
    ConfigError,
    TrainConfig,
    load_config,
)
from gan_regularizers.training.consistency import check_consistency
from gan_regularizers.training.metrics_log import read_metrics
from gan_regularizers.training.networks import user_modules_keys
from gan_regularizers.training.run import Run
from gan_regularizers.training.run_builder import build_run, describe_dataset
from gan_regularizers.training.run_folder import (
    CONFIG_NAME,
    check_new_run_folder,
    record_launch,
    run_folder_lock,
)
from gan_regularizers.training.samples import generate, grid_path, list_grids, save_grid
from gan_regularizers.training.sinks import LogSinks
from gan_regularizers.training.step import tell_step, train_step

__all__ = ["CONFIG_NAME", "NonFiniteLossError", "TrainResult", "train"]

ESTIMATE_STEPS = 3  # steps timed after a launch's first (which warms up) for the time estimate
ESTIMATE_MIN_S = 60.0  # say how long the run takes only when it takes longer than this


@dataclass
class TrainResult:
    """What ``train`` returns (``generator_ema`` is None unless ``ema_decay > 0``;
    ``trained_steps`` counts the steps this call ran: 0 for a resume already at ``steps``)."""

    run_dir: Path
    step: int
    metrics: dict[str, Any]
    generator: nn.Module
    discriminator: nn.Module
    regularizers: dict[str, nn.Module] = field(default_factory=dict)
    report: Path | None = None
    rank: int = 0
    world_size: int = 1
    generator_ema: nn.Module | None = None
    trained_steps: int = 0


def _new_run_dir(config: TrainConfig) -> Path:
    if config.run_dir:
        return Path(config.run_dir)
    return Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S")


def _resolve(
    config: TrainConfig | Mapping[str, Any] | str | Path | None,
    resume: str | Path | None,
    overrides: Mapping[str, Any],
) -> tuple[TrainConfig, dict[str, Any] | None, dict[str, tuple[Any, Any]]]:
    """``(config, checkpoint state or None, {changed key: (old, new)})``."""
    if resume is None:
        return load_config(config, overrides), None, {}
    if config is not None:
        raise ConfigError(
            "pass either a config or resume=RUN_DIR, not both: a resumed run uses the config "
            "saved in its folder (change only " + ", ".join(sorted(RESUMABLE_KEYS)) + ")."
        )
    run_dir = Path(resume)
    state = load_checkpoint(run_dir)
    saved = load_config(state["config"])
    resolved = load_config(saved, {**overrides, "run_dir": str(run_dir)})
    changed = {
        key: (getattr(saved, key), getattr(resolved, key))
        for key in overrides
        if getattr(saved, key) != getattr(resolved, key)
    }
    frozen = sorted(key for key in changed if key not in RESUMABLE_KEYS)
    if frozen:
        raise ConfigError(
            f"config key(s) {', '.join(frozen)} cannot change when resuming (the run "
            f"would not continue the same training). Keys that may change: "
            f"{', '.join(sorted(RESUMABLE_KEYS))}. Start a new run to change the others."
        )
    if resolved.steps < state["step"]:
        raise ConfigError(
            f"config key 'steps': the checkpoint is at step {state['step']} but steps is "
            f"{resolved.steps}. Pass a larger --steps to continue training."
        )
    return resolved, state, changed


def train(
    config: TrainConfig | Mapping[str, Any] | str | Path | None = None,
    *,
    resume: str | Path | None = None,
    dataset: torch.utils.data.Dataset | None = None,
    generator: nn.Module | None = None,
    discriminator: nn.Module | None = None,
    **overrides: Any,
) -> TrainResult:
    """Train a GAN (the configured architecture, or your own modules) with the configured loss,
    regularizers and augmentation; write the run folder.

    Under torchrun (``torchrun --nproc_per_node=N -m gan_regularizers train …``) or inside a
    process group the caller started, G and D train with DistributedDataParallel: each rank takes
    its slice of every global batch, gradients are averaged, and rank 0 alone writes the run
    folder (see docs/distributed.md).

    Args:
        config: a ``TrainConfig``, a mapping of config keys, a TOML file, or ``None``.
        resume: a run folder to continue from its checkpoint (bit-exact on CPU); its saved config
            is used, and only the keys in ``RESUMABLE_KEYS`` (e.g. ``steps``, ``g_lr``) may be
            overridden; changes are recorded in the folder's ``history.jsonl``.
        dataset: use this dataset (``(image in [-1, 1], label)`` items) instead of ``data``; the
            config records ``"<user dataset: ClassName, N images>"``.
        generator, discriminator: your own modules instead of the config's ``architecture``
            (the contract: docs/architectures.md); the config records their class names and
            parameter counts, and ``z_dim`` is the generator's. To resume, pass them again:
            ``train(resume=run_dir, generator=G, discriminator=D)`` loads the weights into them.
        **overrides: config keys, e.g. ``steps=1000, regularizers=["r1:gamma=10,every=16"]``;
            ``regularizers`` may also hold ready ``nn.Module`` instances.

    Returns:
        The run folder, the last step, the last metrics row and the trained modules.

    Raises:
        ConfigError: unknown key or invalid value.
        RunFolderError: the output folder holds files that are not a run of ours.
        TrainingDataError: the images are far outside ``[-1, 1]`` (e.g. ``[0, 255]``).
        NonFiniteLossError: a loss term became NaN or Inf (names the step and the term).
        CheckpointWriteError: a checkpoint could not be written (e.g. the disk is full).
        ConsistencyError: with ``check_consistency``, the ranks' parameters or buffers differ.
    """
    specs, modules = split_regularizers(overrides.get("regularizers"))
    if modules:
        overrides = {**overrides, "regularizers": specs}
    if dataset is not None and resume is None:
        overrides = {**overrides, "data": describe_dataset(dataset)}
    if (generator is not None or discriminator is not None) and resume is None:
        overrides = {**overrides, **user_modules_keys(generator, discriminator, overrides)}
    cfg, state, changed = _resolve(config, resume, overrides)
    try:
        device = command_device(cfg.device)
    except DistributedError as error:
        raise ConfigError(f"config key 'device': {error}") from None
    run_dir = _new_run_dir(cfg)
    if state is None:
        check_new_run_folder(run_dir)
    with (
        run_folder_lock(run_dir),
        torch_threads(cfg.threads),
        process_group(device, cfg.dist_timeout_s) as context,
    ):
        try:
            networks = (generator, discriminator)
            return _train(cfg, state, dataset, device, context, run_dir, modules, changed, networks)
        except BaseException as error:
            if context.world_size > 1 and _is_collective_failure(error):
                error.add_note(
                    f"(rank {context.rank} of {context.world_size}: a torch.distributed "
                    f"collective failed or waited longer than dist_timeout_s = "
                    f"{cfg.dist_timeout_s:g} s. Another rank probably failed or stalled first; "
                    "its own error, which torchrun reports, is the cause.)"
                )
            raise


def _is_collective_failure(error: BaseException) -> bool:
    import torch.distributed as dist

    text = str(error).lower()
    return isinstance(error, getattr(dist, "DistError", ())) or any(
        marker in text for marker in ("timed out", "timeout", "connection closed", "gloo")
    )


def _prepare_folder(
    run_dir: Path, cfg: TrainConfig, state: Mapping[str, Any] | None, changed: Mapping[str, Any]
) -> None:
    """Rank 0: create the folder, write the config and record this launch in the history."""
    run_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(run_dir)
    (run_dir / CONFIG_NAME).write_text(cfg.to_toml(), encoding="utf-8")
    if state is None:  # a restart of a run of ours that never checkpointed: drop its old grids
        for grid in list_grids(run_dir):
            grid.unlink()
        record_launch(run_dir, "start", 0, {})
    else:
        record_launch(run_dir, "resume", int(state["step"]), changed)


def _train(
    cfg: TrainConfig,
    state: dict[str, Any] | None,
    dataset: torch.utils.data.Dataset | None,
    device: torch.device,
    context: DistributedContext,
    run_dir: Path,
    modules: list[Any],
    changed: Mapping[str, Any],
    networks: tuple[nn.Module | None, nn.Module | None] = (None, None),
) -> TrainResult:
    """The body of ``train``, inside the process group (a single process is rank 0 of 1)."""
    run_dir = Path(str(broadcast_object(str(run_dir))))  # the ranks agree on `runs/<date-time>`
    if context.is_main:
        _prepare_folder(run_dir, cfg, state, changed)
    run = build_run(cfg, state, dataset, device, context, run_dir, modules, networks)
    sinks = LogSinks(run, resumed=state is not None)
    status, report = "finished", None
    try:
        _run_steps(run, sinks)
    except NonFiniteLossError as error:
        status = f"stopped at step {error.step}: {error.term} was not finite"
        raise
    except KeyboardInterrupt as error:
        status = f"interrupted at step {run.step}"
        if context.world_size > 1:
            raise
        raise _interrupted(run) from error
    except BaseException:
        status = f"interrupted at step {run.step}"
        raise
    finally:
        sinks.close()
        if context.is_main:
            report = _write_outputs(run_dir, cfg, status, context.world_size)
    return TrainResult(
        run_dir=run_dir,
        step=run.step,
        metrics=sinks.last,
        generator=run.generator,
        discriminator=run.discriminator,
        regularizers=stateful({t.name: t.module for t in run.terms.values()}),
        report=report,
        rank=context.rank,
        world_size=context.world_size,
        generator_ema=run.ema,
        trained_steps=run.step - run.start_step,
    )


def _interrupted(run: Run) -> KeyboardInterrupt:
    """Checkpoint the last finished step after a Ctrl-C; the interrupt that says how to resume."""
    finished, partial = run.step, run.in_step  # run.step: the last step that finished
    if finished > 0 and finished != run.saved_step:
        save_run(run, finished, run.elapsed)
    note = (
        f" (step {finished + 1} was under way and partly done: the continuation is not bit-exact)"
        if partial
        else ""
    )
    if run.saved_step is None:
        return KeyboardInterrupt("interrupted before the first step finished; nothing to resume")
    return KeyboardInterrupt(
        f"interrupted at step {run.saved_step}{note}; resume with "
        f"`gan-regularizers train --resume {run.run_dir}`"
    )


@contextlib.contextmanager
def _deferred_sigint(run: Run) -> Iterator[None]:
    """The first Ctrl-C asks the loop to stop after the current step; a second one interrupts.

    Only in the main thread of a single process (under torchrun the ranks must stop together)."""
    usable = (
        run.context.world_size == 1
        and threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    )
    if not usable:
        yield
        return

    def request_stop(signum: int, frame: object) -> None:
        if run.stop_requested:
            raise KeyboardInterrupt
        run.stop_requested = True

    signal.signal(signal.SIGINT, request_stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _run_steps(run: Run, sinks: LogSinks) -> None:
    """Steps ``start_step + 1 … steps``: train, log, sample and checkpoint on schedule."""
    cfg = run.cfg
    run_start = time.perf_counter()
    batches = iter(run.stream)
    with _deferred_sigint(run):
        for step in range(run.start_step + 1, cfg.steps + 1):
            tell_step(run, step)  # duty 1, before anything of the step changes the run's state
            run.in_step = True
            run.schedules.before_step(run, step)  # duty 12: scheduled options, lr/betas
            real, real_labels = _split(next(batches), run.device)
            z = torch.randn(run.stream.local_batch_size, cfg.z_dim, generator=run.latent_generator)
            # conditional: the fakes are drawn for the real batch's labels (None: unconditional)
            sinks.means.add(train_step(run, real, z.to(run.device), step, real_labels, real_labels))
            run.schedules.after_step(run, step)  # duty 14: the controllers (adaptive centroid)
            run.step, run.in_step = step, False  # logging and sampling change no training state
            _after_step(run, sinks, step, run.elapsed_before + time.perf_counter() - run_start)
            if run.stop_requested:
                raise KeyboardInterrupt


def _after_step(run: Run, sinks: LogSinks, step: int, elapsed: float) -> None:
    """Log, sample and checkpoint on schedule after ``step``; say how long the run will take."""
    cfg, main = run.cfg, run.context.is_main
    last, run.elapsed = step == cfg.steps, elapsed
    logged = None
    if step % cfg.log_every == 0 or last:
        if cfg.check_consistency:
            check_consistency(_checked_modules(run), step)
        logged = sinks.row(step, _diagnostics(run), elapsed)
    if main and (step % cfg.sample_every == 0 or last):
        images = generate(run.sampler, run.fixed_z, run.fixed_labels)
        save_grid(images, grid_path(run.run_dir, step), rows=run.num_classes or None)
    if step % cfg.checkpoint_every == 0 or last:
        save_run(run, step, elapsed)
    sinks.progress.update(step, logged)
    if main:
        _estimate(run, step)


def _estimate(run: Run, step: int) -> None:
    """On CPU, print how long the run will take, from the ``ESTIMATE_STEPS`` steps after the
    launch's first (which warms up), when that is over ``ESTIMATE_MIN_S``."""
    if step == run.start_step + 1:
        run.estimate_from = time.perf_counter()
        return
    if step != run.start_step + 1 + ESTIMATE_STEPS or run.estimate_from is None:
        return
    per_step = (time.perf_counter() - run.estimate_from) / ESTIMATE_STEPS
    remaining = run.cfg.steps - step
    if run.device.type != "cpu" or remaining * per_step < ESTIMATE_MIN_S:
        return
    print(
        f"estimated training time on CPU: about {_duration(remaining * per_step)} for the "
        f"{remaining:,} remaining steps ({per_step:.2f} s/step at batch {run.cfg.batch_size}); "
        "lower --steps or --batch-size, or train on a GPU, to take less.",
        file=sys.stderr,
        flush=True,
    )


def _duration(seconds: float) -> str:
    """``90`` → ``"2 min"``; ``7200`` → ``"2.0 h"``."""
    if seconds < 3600:
        return f"{max(1, round(seconds / 60))} min"
    return f"{seconds / 3600:.1f} h"


def _split(batch: Any, device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(images, labels or None)`` on ``device`` from what the batch stream yields."""
    if isinstance(batch, (tuple, list)):
        return batch[0].to(device, non_blocking=True), batch[1].to(device, non_blocking=True)
    return batch.to(device, non_blocking=True), None


def _diagnostics(run: Run) -> dict[str, float]:
    """``diag/<term>/<key>`` of every regularizer (and ``diag/augment/<key>``) with diagnostics."""
    sources = {name: term.module for name, term in run.terms.items()}
    if run.augment is not None:
        sources["augment"] = run.augment
    return {
        **{
            f"diag/{name}/{key}": float(value)
            for name, module in sources.items()
            for key, value in dict(getattr(module, "diagnostics", {}) or {}).items()
        },
        **run.schedules.values,
    }


def _checked_modules(run: Run) -> dict[str, nn.Module]:
    modules = {"generator": run.generator, "discriminator": run.discriminator}
    if run.ema is not None:
        modules["generator_ema"] = run.ema
    if run.augment_state is not None:
        modules["augment"] = run.augment_state
    terms = stateful({t.name: t.module for t in run.terms.values()})
    return {**modules, **{f"regularizer[{name}]": m for name, m in terms.items()}}


def _write_outputs(
    run_dir: Path, cfg: TrainConfig, status: str, world_size: int = 1
) -> Path | None:
    """Curves and report.md from what is on disk (so they also cover earlier, resumed parts)."""
    from gan_regularizers.training.report import write_run_report

    rows = read_metrics(run_dir)
    if world_size > 1:
        status += f" ({world_size} processes, DistributedDataParallel)"
    curves: dict[str, Path] = {}
    try:
        if rows and cfg.plots:
            curves, note = _curves(rows, run_dir)
            status += note
        return write_run_report(run_dir, cfg.to_dict(), rows, list_grids(run_dir), curves, status)
    except OSError as error:  # a full disk must not hide the error that stopped training
        warnings.warn(f"could not write the report in {run_dir}: {error}", stacklevel=2)
        return None


def _curves(rows: list[dict[str, Any]], run_dir: Path) -> tuple[dict[str, Path], str]:
    try:
        from gan_regularizers.training.plots import plot_runs

        return plot_runs({"run": rows}, run_dir), ""
    except ImportError:  # matplotlib comes with the [demo] extra
        return {}, " (curves skipped: install matplotlib, pip install 'gan-regularizers[demo]')"
