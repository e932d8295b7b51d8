"""The thin training loop: the paper's Algorithm 1 with any loss and any list of regularizers.

Each iteration, with a batch of real images ``x`` and latents ``z ~ N(0, I)``:

1. ``x̂ = G(z)``;
2. discriminator step on ``L_D = loss.discriminator_loss(D(x), D(x̂.detach()))``;
3. generator step on ``L_G = loss.generator_loss(D(x̂)) + Σ_r r(x̂)``, each regularizer ``r``
   returning its already-weighted penalty (for the centroid: ``λ · L_centroid``).

Regularizers that have ``fit`` and are not ``fitted`` are fitted on the training data before step 1.
Under torchrun G and D run in DistributedDataParallel and rank 0 alone writes the run folder
(see :mod:`gan_regularizers.training.ddp` and docs/distributed.md).
Every term is checked for NaN/Inf before its optimiser step: a non-finite value stops training
with :class:`NonFiniteLossError` naming the step and the term, and the last checkpoint is kept.
"""

from __future__ import annotations

import contextlib
import os
import random
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from gan_regularizers.distributed import (
    DistributedContext,
    DistributedError,
    all_gather_objects,
    broadcast_object,
    device_for_rank,
    launch_environment,
    process_group,
)
from gan_regularizers.errors import GanRegularizersError
from gan_regularizers.models.dcgan import DCGANDiscriminator, DCGANGenerator
from gan_regularizers.plugin_system.registry import get_loss, get_regularizer
from gan_regularizers.plugin_system.specs import parse_spec
from gan_regularizers.training.batch_stream import BatchStream
from gan_regularizers.training.checkpoint import (
    CHECKPOINT_NAME,
    FORMAT,
    FORMAT_VERSION,
    capture_rng,
    load_checkpoint,
    load_module_state,
    remove_stale_temporaries,
    restore_rng,
    save_atomic,
)
from gan_regularizers.training.config import (
    RESUMABLE_KEYS,
    ConfigError,
    TrainConfig,
    load_config,
)
from gan_regularizers.training.consistency import check_consistency
from gan_regularizers.training.ddp import (
    average_buffers,
    mean_over_ranks,
    rank_seed,
    wrap,
)
from gan_regularizers.training.metrics_log import MetricsLog, read_metrics
from gan_regularizers.training.samples import generate, grid_path, list_grids, save_grid

CONFIG_NAME = "config.toml"


class NonFiniteLossError(GanRegularizersError, FloatingPointError):
    """A loss term became NaN or Inf; the message names the step and the term."""

    def __init__(self, message: str, step: int, term: str) -> None:
        super().__init__(message)
        self.step, self.term = step, term


@dataclass
class TrainResult:
    """What :func:`train` returns."""

    run_dir: Path
    step: int
    metrics: dict[str, Any]
    generator: nn.Module
    discriminator: nn.Module
    regularizers: dict[str, nn.Module] = field(default_factory=dict)
    report: Path | None = None
    rank: int = 0
    world_size: int = 1


def resolve_device(name: str, local_rank: int = 0, world_size: int = 1) -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; ``"cuda"`` without CUDA is an error.

    Under torchrun (``world_size > 1``) ``"auto"`` and ``"cuda"`` mean ``cuda:LOCAL_RANK``: one
    GPU per process.
    """
    try:
        return device_for_rank(name, local_rank, world_size)
    except DistributedError as error:
        raise ConfigError(f"config key 'device': {error}") from None


def _local_rank_and_world_size() -> tuple[int, int]:
    """``(LOCAL_RANK, WORLD_SIZE)`` of the launch this process is part of, before joining it."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return int(os.environ.get("LOCAL_RANK", dist.get_rank())), dist.get_world_size()
    launch = launch_environment()
    return (launch.local_rank, launch.world_size) if launch is not None else (0, 1)


def build_regularizers(specs: list[str]) -> dict[str, Any]:
    """``["centroid:weight=0.1", …]`` → ``{"centroid": module, …}`` (repeats get ``#2``, ``#3``)."""
    built: dict[str, Any] = {}
    for spec in specs:
        name, options = parse_spec(spec)
        term, count = name, 2
        while term in built:
            term, count = f"{name}#{count}", count + 1
        try:
            built[term] = get_regularizer(name, **options)
        except (TypeError, ValueError) as error:
            if isinstance(error, GanRegularizersError):
                raise
            raise ConfigError(f"config key 'regularizers', {spec!r}: {error}") from error
    return built


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _new_run_dir(config: TrainConfig) -> Path:
    if config.run_dir:
        return Path(config.run_dir)
    return Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S")


def _check_finite(values: Mapping[str, float], step: int, run_dir: Path, saved: int | None) -> None:
    for term, value in values.items():
        if not np.isfinite(value):
            where = (
                f"The last good checkpoint (step {saved}) is kept in {run_dir / CHECKPOINT_NAME}; "
                f"resume from it with --resume {run_dir} after the fix."
                if saved is not None
                else "No checkpoint had been written yet."
            )
            raise NonFiniteLossError(
                f"step {step}: the {term} is {value}; training stopped before the optimiser "
                f"step. {where} Lower the learning rates or the regularizer weights, or check "
                "the term's inputs.",
                step=step,
                term=term,
            )


class _Progress:
    """A tqdm bar (steps/s, ETA, current losses), or plain log lines with ``quiet``."""

    def __init__(
        self, total: int, initial: int, quiet: bool, label: str, enabled: bool = True
    ) -> None:
        self.quiet, self.total, self.label, self.enabled = quiet, total, label, enabled
        self.start, self.initial = time.perf_counter(), initial
        self.bar = None
        if not quiet and enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(
                total=total, initial=initial, desc=label, unit="step", dynamic_ncols=True
            )

    def update(self, step: int, row: Mapping[str, Any] | None) -> None:
        if self.bar is not None:
            self.bar.update(1)
            if row is not None:
                self.bar.set_postfix(
                    d=f"{row['loss_d']:.3f}", g=f"{row['loss_g']:.3f}",
                    dx=f"{row['d_real']:.2f}", dgz=f"{row['d_fake']:.2f}",
                )  # fmt: skip
        elif row is not None and self.enabled:
            elapsed = time.perf_counter() - self.start
            rate = (step - self.initial) / elapsed if elapsed > 0 else 0.0
            eta = (self.total - step) / rate if rate > 0 else float("nan")
            print(
                f"{self.label} step {step}/{self.total}  loss_d {row['loss_d']:.4f}  "
                f"loss_g {row['loss_g']:.4f}  D(x) {row['d_real']:.3f}  "
                f"D(G(z)) {row['d_fake']:.3f}  {rate:.2f} steps/s  ETA {eta:.0f} s",
                file=sys.stderr,
                flush=True,
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _tensorboard_writer(run_dir: Path, enabled: bool) -> Any:
    if not enabled:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is optional
        return None
    return SummaryWriter(log_dir=str(run_dir / "tensorboard"))


def _resolve(
    config: TrainConfig | Mapping[str, Any] | str | Path | None,
    resume: str | Path | None,
    overrides: Mapping[str, Any],
) -> tuple[TrainConfig, dict[str, Any] | None]:
    if resume is None:
        return load_config(config, overrides), None
    if config is not None:
        raise ConfigError(
            "pass either a config or resume=RUN_DIR, not both: a resumed run uses the config "
            "saved in its folder (change only " + ", ".join(sorted(RESUMABLE_KEYS)) + ")."
        )
    run_dir = Path(resume)
    state = load_checkpoint(run_dir)
    saved = load_config(state["config"])
    changed = {
        k for k, v in overrides.items() if k not in RESUMABLE_KEYS and getattr(saved, k) != v
    }
    if changed:
        raise ConfigError(
            f"config key(s) {', '.join(sorted(changed))} cannot change when resuming (the run "
            f"would not continue the same training). Keys that may change: "
            f"{', '.join(sorted(RESUMABLE_KEYS))}. Start a new run to change the others."
        )
    resolved = load_config(saved, {**overrides, "run_dir": str(run_dir)})
    if resolved.steps < state["step"]:
        raise ConfigError(
            f"config key 'steps': the checkpoint is at step {state['step']} but steps is "
            f"{resolved.steps}. Pass a larger --steps to continue training."
        )
    return resolved, state


def train(
    config: TrainConfig | Mapping[str, Any] | str | Path | None = None,
    *,
    resume: str | Path | None = None,
    dataset: torch.utils.data.Dataset | None = None,
    **overrides: Any,
) -> TrainResult:
    """Train a DCGAN with the configured loss and regularizers; write everything to the run folder.

    Under torchrun (``torchrun --nproc_per_node=N -m gan_regularizers train …``) or inside a
    process group the caller started, G and D train with DistributedDataParallel: each rank takes
    its slice of every global batch, gradients are averaged, and rank 0 alone writes the run
    folder (see docs/distributed.md).

    Args:
        config: a :class:`TrainConfig`, a mapping of config keys, a TOML file, or ``None``.
        resume: a run folder to continue from its checkpoint (bit-exact on CPU); its saved config
            is used, and only the keys in ``RESUMABLE_KEYS`` (e.g. ``steps``) may be overridden.
        dataset: use this dataset (``(image in [-1, 1], label)`` items) instead of ``data``.
        **overrides: config keys, e.g. ``steps=1000, regularizers=["centroid:weight=0.1"]``.

    Returns:
        The run folder, the last step, the last metrics row and the trained modules.

    Raises:
        ConfigError: unknown key or invalid value.
        NonFiniteLossError: a loss term became NaN or Inf (names the step and the term).
        ConsistencyError: with ``check_consistency``, the ranks' parameters or buffers differ.
    """
    cfg, state = _resolve(config, resume, overrides)
    local_rank, world_size = _local_rank_and_world_size()
    device = resolve_device(cfg.device, local_rank, world_size)
    run_dir = _new_run_dir(cfg)
    if state is None and (run_dir / CHECKPOINT_NAME).exists():
        raise ConfigError(
            f"config key 'run_dir': {run_dir} already holds a checkpoint. Continue it with "
            f"--resume {run_dir}, or choose another --run-dir."
        )
    with process_group(device, cfg.dist_timeout_s) as context:
        try:
            return _train(cfg, state, dataset, device, context, run_dir)
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


def _train(
    cfg: TrainConfig,
    state: dict[str, Any] | None,
    dataset: torch.utils.data.Dataset | None,
    device: torch.device,
    context: DistributedContext,
    run_dir: Path,
) -> TrainResult:
    """The body of :func:`train`, inside the process group (a single process is rank 0 of 1)."""
    rank, world_size, main = context.rank, context.world_size, context.is_main
    run_dir = Path(str(broadcast_object(str(run_dir))))  # the ranks agree on `runs/<date-time>`
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(run_dir)
        (run_dir / CONFIG_NAME).write_text(cfg.to_toml(), encoding="utf-8")

    if dataset is None:
        from gan_regularizers.data.sources import load_dataset

        try:
            dataset = load_dataset(cfg.data, image_size=cfg.image_size)
        except (FileNotFoundError, ValueError) as error:
            if isinstance(error, GanRegularizersError):
                raise
            raise ConfigError(f"config key 'data': {error}") from error
    from gan_regularizers.data.sources import dataset_shape

    channels, size = dataset_shape(dataset)
    if size != cfg.image_size:
        raise ConfigError(
            f"config key 'image_size' is {cfg.image_size} but the data's images are "
            f"{size}×{size}; set image_size = {size} or resize the data."
        )

    _seed_everything(cfg.seed)  # the same seed on every rank: identical initial models
    generator = DCGANGenerator(cfg.image_size, channels, cfg.z_dim, cfg.g_width).to(device)
    discriminator = DCGANDiscriminator(cfg.image_size, channels, cfg.d_width).to(device)
    loss_name, loss_options = parse_spec(cfg.loss)
    try:
        loss = get_loss(loss_name, **loss_options)
    except (TypeError, ValueError) as error:
        if isinstance(error, GanRegularizersError):
            raise
        raise ConfigError(f"config key 'loss', {cfg.loss!r}: {error}") from error
    regularizers = build_regularizers(cfg.regularizers)
    for module in regularizers.values():
        if isinstance(module, nn.Module):
            module.to(device)
    betas = (cfg.beta1, cfg.beta2)
    g_optimizer = torch.optim.Adam(generator.parameters(), lr=cfg.g_lr, betas=betas)
    d_optimizer = torch.optim.Adam(discriminator.parameters(), lr=cfg.d_lr, betas=betas)
    try:
        stream = BatchStream(
            dataset, cfg.batch_size, cfg.seed, cfg.num_workers, rank=rank, world_size=world_size
        )
    except GanRegularizersError as error:
        raise ConfigError(f"config key 'batch_size': {error}") from error
    if rank > 0:  # each rank draws its own latents (and any other randomness) from here on
        _seed_everything(rank_seed(cfg.seed, rank))
    latent_generator = torch.Generator().manual_seed(rank_seed(cfg.seed, rank))
    fixed_z = torch.randn(
        cfg.num_samples, cfg.z_dim, generator=torch.Generator().manual_seed(cfg.seed + 1)
    )

    start_step, elapsed_before, saved_step = 0, 0.0, None
    if state is not None:
        generator.load_state_dict(state["generator"])
        discriminator.load_state_dict(state["discriminator"])
        g_optimizer.load_state_dict(state["g_optimizer"])
        d_optimizer.load_state_dict(state["d_optimizer"])
        for term, module in regularizers.items():
            if isinstance(module, nn.Module):
                load_module_state(module, state["regularizers"].get(term, {}))
        stream.load_state_dict(state["data"])
        _restore_rank_rng(state, latent_generator, rank, world_size)
        fixed_z = state["fixed_z"]
        start_step = saved_step = int(state["step"])
        elapsed_before = float(state.get("elapsed_s", 0.0))

    for module in regularizers.values():  # CentroidLoss shards this under torch.distributed
        if callable(getattr(module, "fit", None)) and not getattr(module, "fitted", True):
            fit_options: dict[str, Any] = {"cache": cfg.fit_cache}
            if cfg.fit_max_images:
                fit_options["max_images"] = cfg.fit_max_images
            module.fit(dataset, **fit_options)

    g_model = wrap(generator, device, world_size)
    d_model = wrap(discriminator, device, world_size)
    checked = {
        "generator": generator,
        "discriminator": discriminator,
        **{f"regularizer[{t}]": m for t, m in regularizers.items() if isinstance(m, nn.Module)},
    }

    def save_checkpoint(step: int, elapsed: float) -> None:
        rng = capture_rng(latent_generator)
        every_rng = all_gather_objects(rng) if world_size > 1 else [rng]
        if not main:
            return
        save_atomic(
            {
                "format": FORMAT,
                "version": FORMAT_VERSION,
                "step": step,
                "config": cfg.to_dict(),
                "generator": generator.state_dict(),
                "discriminator": discriminator.state_dict(),
                "g_optimizer": g_optimizer.state_dict(),
                "d_optimizer": d_optimizer.state_dict(),
                "regularizers": {
                    term: module.state_dict()
                    for term, module in regularizers.items()
                    if isinstance(module, nn.Module)
                },
                "data": stream.state_dict(),
                "rng": rng,
                "rng_per_rank": every_rng,
                "world_size": world_size,
                "fixed_z": fixed_z,
                "elapsed_s": elapsed,
            },
            run_dir / CHECKPOINT_NAME,
        )

    autocast = (
        (lambda: torch.autocast(device.type, dtype=torch.bfloat16))
        if cfg.amp == "bf16"
        else contextlib.nullcontext
    )
    metrics = (
        MetricsLog(run_dir, resume_step=start_step if state is not None else None) if main else None
    )
    writer = _tensorboard_writer(run_dir, cfg.tensorboard and main)
    progress = _Progress(cfg.steps, start_step, cfg.quiet, label=run_dir.name, enabled=main)
    sums: dict[str, float] = {}
    interval_steps, interval_start = 0, time.perf_counter()
    run_start = time.perf_counter()
    row: dict[str, Any] = {}
    step = start_step
    batches = iter(stream)
    status = "finished"
    report = None
    try:
        for step in range(start_step + 1, cfg.steps + 1):
            real = next(batches).to(device, non_blocking=True)
            z = torch.randn(stream.local_batch_size, cfg.z_dim, generator=latent_generator)
            z = z.to(device)
            with autocast():
                fake = g_model(z)
                real_logits = d_model(real)
                fake_logits = d_model(fake.detach())
            loss_d = loss.discriminator_loss(real_logits.float(), fake_logits.float())
            d_values = mean_over_ranks(
                torch.stack(
                    [
                        loss_d.detach(),
                        torch.sigmoid(real_logits.detach().float()).mean(),
                        torch.sigmoid(fake_logits.detach().float()).mean(),
                    ]
                ),
                world_size,
            ).tolist()
            _check_finite({f"discriminator loss ({loss_name})": d_values[0]}, step, run_dir,
                          saved_step)  # fmt: skip
            d_optimizer.zero_grad(set_to_none=True)
            loss_d.backward()
            d_optimizer.step()

            # The G step calls the plain D (not its DDP wrapper) with D frozen: gradients reach
            # the fakes and G's DDP graph, and D's reducer expects no gradients it won't get.
            discriminator.requires_grad_(False)
            with autocast():
                # relativistic losses compare with D(x) under the current (just updated) D
                relativistic = getattr(loss, "requires_real_logits", False)
                real_now = discriminator(real) if relativistic else real_logits.detach()
                adversarial = loss.generator_loss(discriminator(fake).float(), real_now.float())
            terms = {}
            for term, module in regularizers.items():
                try:
                    terms[term] = module(fake.float())
                except Exception as error:
                    error.add_note(f"(raised by the regularizer {term!r} at step {step})")
                    raise
            discriminator.requires_grad_(True)
            loss_g = adversarial + sum(terms.values(), torch.zeros((), device=device))
            g_values = mean_over_ranks(
                torch.stack(
                    [
                        adversarial.detach().float(),
                        *(t.detach().float().reshape(()) for t in terms.values()),
                    ]
                ),
                world_size,
            ).tolist()
            named = {f"generator loss ({loss_name})": g_values[0]}
            named.update(
                {f"regularizer {t!r}": v for t, v in zip(terms, g_values[1:], strict=True)}
            )
            _check_finite(named, step, run_dir, saved_step)
            g_optimizer.zero_grad(set_to_none=True)
            loss_g.backward()
            g_optimizer.step()
            average_buffers(generator, world_size)
            average_buffers(discriminator, world_size)

            current = {
                "loss_d": d_values[0],
                "loss_g": float(sum(g_values)),
                "loss_g_adv": g_values[0],
                "d_real": d_values[1],
                "d_fake": d_values[2],
                **{f"reg/{t}": v for t, v in zip(terms, g_values[1:], strict=True)},
            }
            for key, value in current.items():
                sums[key] = sums.get(key, 0.0) + value
            interval_steps += 1
            logged = None
            if step % cfg.log_every == 0 or step == cfg.steps:
                if cfg.check_consistency:
                    check_consistency(checked, step)
                now = time.perf_counter()
                row = {"step": step, **{k: v / interval_steps for k, v in sums.items()}}
                for term, module in regularizers.items():
                    for key, value in dict(getattr(module, "diagnostics", {}) or {}).items():
                        row[f"diag/{term}/{key}"] = float(value)
                row["images_per_s"] = interval_steps * cfg.batch_size / (now - interval_start)
                row["elapsed_s"] = elapsed_before + now - run_start
                if metrics is not None:
                    metrics.write(row)
                if writer is not None:
                    for key, value in row.items():
                        if key != "step":
                            writer.add_scalar(key, value, step)
                sums, interval_steps, interval_start, logged = {}, 0, now, row
            if main and (step % cfg.sample_every == 0 or step == cfg.steps):
                save_grid(generate(generator, fixed_z), grid_path(run_dir, step))
            if step % cfg.checkpoint_every == 0 or step == cfg.steps:
                save_checkpoint(step, elapsed_before + time.perf_counter() - run_start)
                saved_step = step
            progress.update(step, logged)
    except NonFiniteLossError as error:
        status = f"stopped at step {step}: {error.term} was not finite"
        raise
    except BaseException:
        status = f"interrupted at step {step}"
        raise
    finally:
        progress.close()
        if metrics is not None:
            metrics.close()
        if writer is not None:
            writer.close()
        if main:
            report = _write_outputs(run_dir, cfg, status, world_size)

    return TrainResult(
        run_dir=run_dir,
        step=step,
        metrics=row,
        generator=generator,
        discriminator=discriminator,
        regularizers={t: m for t, m in regularizers.items() if isinstance(m, nn.Module)},
        report=report,
        rank=rank,
        world_size=world_size,
    )


def _restore_rank_rng(
    state: Mapping[str, Any], latent_generator: torch.Generator, rank: int, world_size: int
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
        import warnings

        warnings.warn(
            f"the checkpoint was written by {saved_world} process(es) and this run has "
            f"{world_size}: the data order continues exactly, but each process draws its own "
            "latents (ranks ≥ 1 from fresh streams), so the run is not a bit-exact "
            f"continuation. Resume with {saved_world} process(es) for that.",
            stacklevel=3,
        )


def _write_outputs(run_dir: Path, cfg: TrainConfig, status: str, world_size: int = 1) -> Path:
    """Curves and report.md from what is on disk (so they also cover earlier, resumed parts)."""
    from gan_regularizers.training.plots import plot_runs
    from gan_regularizers.training.report import write_run_report

    rows = read_metrics(run_dir)
    if world_size > 1:
        status += f" ({world_size} processes, DistributedDataParallel)"
    curves: dict[str, Path] = {}
    if rows:
        try:
            curves = plot_runs({"run": rows}, run_dir)
        except ImportError:  # matplotlib comes with the [demo] extra
            status += " (curves skipped: install matplotlib, pip install 'gan-regularizers[demo]')"
    return write_run_report(run_dir, cfg.to_dict(), rows, list_grids(run_dir), curves, status)
