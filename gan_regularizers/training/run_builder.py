"""Build everything one training run needs into a ``Run``, from its config.

Order (it fixes the random draws, so a run is reproducible): the data; seed; G and D; the loss,
the regularizers and the augmentation; the EMA copy of G; the Adam optimisers; the batch stream;
per-rank seeds, the latent sampler and the fixed sample z; a checkpoint's state when resuming;
fitting the regularizers that are not ``fitted``; DDP wrapping.
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from gan_regularizers.distributed import DistributedContext
from gan_regularizers.errors import GanRegularizersError
from gan_regularizers.files.fitted_state import fit_regularizer, is_fittable
from gan_regularizers.training.batch_stream import BatchStream
from gan_regularizers.training.checkpointer import restore_run
from gan_regularizers.training.components import (
    build_augmentation,
    build_loss,
    build_regularizers,
)
from gan_regularizers.training.config import ConfigError, TrainConfig, ema_enabled
from gan_regularizers.training.data_checks import check_training_range
from gan_regularizers.training.ddp import rank_seed, wrap
from gan_regularizers.training.ema import make_ema
from gan_regularizers.training.networks import build_networks, fixed_labels, resolve_num_classes
from gan_regularizers.training.run import Run
from gan_regularizers.training.scheduling import config_value

USER_DATASET_PREFIX = "<user dataset: "


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def describe_dataset(dataset: Any) -> str:
    """What the config records for ``train(dataset=…)``: its class and size."""
    return f"{USER_DATASET_PREFIX}{type(dataset).__name__}, {len(dataset)} images>"


def load_training_data(cfg: TrainConfig, dataset: Any) -> Any:
    """``dataset`` or the config's ``data``, checked against ``image_size`` and the range."""
    if dataset is None:
        if cfg.data.startswith(USER_DATASET_PREFIX):
            raise ConfigError(
                f"config key 'data': this run trained on a dataset passed to train() "
                f"({cfg.data}); pass it again: train(resume=RUN_DIR, dataset=my_dataset)."
            )
        from gan_regularizers.data.sources import load_dataset

        try:
            dataset = load_dataset(cfg.data, image_size=cfg.image_size)
        except (FileNotFoundError, ValueError) as error:
            if isinstance(error, GanRegularizersError):
                raise
            raise ConfigError(f"config key 'data': {error}") from error
    from gan_regularizers.data.sources import dataset_shape

    _, size = dataset_shape(dataset)
    if size != cfg.image_size:
        raise ConfigError(
            f"config key 'image_size' is {cfg.image_size} but the data's images are "
            f"{size}×{size}; set image_size = {size} or resize the data."
        )
    check_training_range(dataset, cfg.data)
    return dataset


def _batch_stream(
    dataset: Any, cfg: TrainConfig, context: DistributedContext, labelled: bool = False
) -> BatchStream:
    try:
        return BatchStream(dataset, cfg.batch_size, cfg.seed, cfg.num_workers,
                           rank=context.rank, world_size=context.world_size,
                           labels=labelled)  # fmt: skip
    except GanRegularizersError as error:
        raise ConfigError(f"config key 'batch_size': {error}") from error


def _plugins(cfg: TrainConfig, modules: Sequence[Any], device: torch.device) -> tuple:
    loss = build_loss(cfg.loss)
    terms = build_regularizers(cfg.regularizers, list(modules))
    augment = build_augmentation(cfg.augment)
    for module in [*(t.module for t in terms.values()), augment]:
        if isinstance(module, nn.Module):
            module.to(device)
    return loss, terms, augment


@contextlib.contextmanager
def _progress_bars(shown: bool) -> Iterator[None]:
    """Hide every tqdm bar a plugin's ``fit`` draws when the run is quiet (``TQDM_DISABLE``)."""
    if shown:
        yield
        return
    before = os.environ.get("TQDM_DISABLE")
    os.environ["TQDM_DISABLE"] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TQDM_DISABLE", None)
        else:
            os.environ["TQDM_DISABLE"] = before


def fit_regularizers(run: Run) -> None:
    """Fit each regularizer that has ``fit`` and is not ``fitted`` (sharded under DDP)."""
    for term in run.terms.values():
        module = term.module
        if is_fittable(module) and not module.fitted:
            options: dict[str, Any] = {"cache": run.cfg.fit_cache}
            if run.cfg.fit_max_images:
                options["max_images"] = run.cfg.fit_max_images
            with _progress_bars(shown=not run.cfg.quiet):
                fit_regularizer(module, run.dataset, **options)


def build_run(
    cfg: TrainConfig,
    state: dict[str, Any] | None,
    dataset: Any,
    device: torch.device,
    context: DistributedContext,
    run_dir: Path,
    modules: Sequence[Any] = (),
    networks: tuple[nn.Module | None, nn.Module | None] = (None, None),
) -> Run:
    """Everything of one run, restored from ``state`` when resuming, fitted and DDP-wrapped.

    ``networks``: the user's own ``(generator, discriminator)``, else the config's architecture.
    """
    from gan_regularizers.data.sources import dataset_shape

    dataset = load_training_data(cfg, dataset)
    channels, _ = dataset_shape(dataset)
    num_classes = cfg.num_classes = resolve_num_classes(cfg.num_classes, dataset)
    seed_everything(cfg.seed)  # the same seed on every rank: identical initial models
    generator, discriminator = build_networks(cfg, channels, num_classes, *networks)
    generator, discriminator = generator.to(device), discriminator.to(device)
    labels = fixed_labels(num_classes, cfg.grid_size)
    grid = cfg.grid_size if labels is None else labels.numel()
    loss, terms, augment = _plugins(cfg, modules, device)
    betas = (config_value(cfg, "beta1"), config_value(cfg, "beta2"))  # schedules: set each step
    g_lr, d_lr = config_value(cfg, "g_lr"), config_value(cfg, "d_lr")
    run = Run(
        cfg=cfg, run_dir=run_dir, device=device, context=context, dataset=dataset,
        generator=generator, discriminator=discriminator,
        g_optimizer=torch.optim.Adam(generator.parameters(), lr=g_lr, betas=betas),
        d_optimizer=torch.optim.Adam(discriminator.parameters(), lr=d_lr, betas=betas),
        loss=loss, terms=terms, augment=augment,
        ema=make_ema(generator) if ema_enabled(cfg) else None,
        stream=_batch_stream(dataset, cfg, context, labelled=num_classes > 0),
        latent_generator=torch.Generator(),
        fixed_z=torch.randn(grid, cfg.z_dim, generator=torch.Generator().manual_seed(cfg.seed + 1)),
        num_classes=num_classes, fixed_labels=labels,
    )  # fmt: skip
    if context.rank > 0:  # each rank draws its own latents (and any other randomness) from here on
        seed_everything(rank_seed(cfg.seed, context.rank))
    run.latent_generator.manual_seed(rank_seed(cfg.seed, context.rank))
    if state is not None:
        restore_run(run, state)
    fit_regularizers(run)  # CentroidLoss shards this under torch.distributed
    run.g_model = wrap(generator, device, context.world_size)
    run.d_model = wrap(discriminator, device, context.world_size)
    return run
