"""The state of one training run, ``Run``: what every training function receives.

``run_builder`` builds it from the config; the step
(``step``), the checkpointer and the log sinks read and update it.
It lives in its own module, below all of them, so each can name its type without an import circle.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gan_regularizers.distributed import DistributedContext
from gan_regularizers.plugin_system.contracts import LogitSummary, logit_summary
from gan_regularizers.training.batch_stream import BatchStream
from gan_regularizers.training.components import RegularizerTerm, requires_real_logits
from gan_regularizers.training.config import TrainConfig
from gan_regularizers.training.scheduling import RunSchedules


@dataclass
class Run:
    """The state of one training run: models, optimisers, plugins, data and random streams."""

    cfg: TrainConfig
    run_dir: Path
    device: torch.device
    context: DistributedContext
    dataset: Any
    generator: nn.Module
    discriminator: nn.Module
    g_optimizer: torch.optim.Optimizer
    d_optimizer: torch.optim.Optimizer
    loss: Any
    terms: dict[str, RegularizerTerm]
    augment: Callable[[torch.Tensor], torch.Tensor] | None
    ema: nn.Module | None
    stream: BatchStream
    latent_generator: torch.Generator
    fixed_z: torch.Tensor
    g_model: nn.Module | None = None
    d_model: nn.Module | None = None
    num_classes: int = 0  # > 0: a class-conditional run
    fixed_labels: torch.Tensor | None = None  # the sample grid's labels, one row per class
    start_step: int = 0
    elapsed_before: float = 0.0
    saved_step: int | None = None
    step: int = 0
    elapsed: float = 0.0  # training seconds (this and earlier launches) at the end of ``step``
    in_step: bool = False  # a step has changed the run's state and not finished yet
    stop_requested: bool = False  # a first Ctrl-C: stop after the current step
    estimate_from: float | None = None  # perf_counter() after the launch's first step
    summary: LogitSummary = field(init=False)
    loss_name: str = field(init=False)
    real_logits_in_g: bool = field(init=False)
    schedules: RunSchedules = field(init=False)

    def __post_init__(self) -> None:
        self.summary = logit_summary(self.loss)
        self.loss_name = self.cfg.loss.partition(":")[0]
        self.real_logits_in_g = requires_real_logits(self.loss)
        if self.g_model is None:
            self.g_model = self.generator
        if self.d_model is None:
            self.d_model = self.discriminator
        owners = {"loss": self.loss, "augment": self.augment}
        owners.update({name: term.module for name, term in self.terms.items()})
        self.schedules = RunSchedules.build(self.cfg, owners, self.terms)

    @property
    def augment_state(self) -> nn.Module | None:
        """The augmentation when it is a module (its buffers are checkpointed)."""
        return self.augment if isinstance(self.augment, nn.Module) else None

    def autocast(self) -> contextlib.AbstractContextManager:
        """bfloat16 autocast with ``amp = "bf16"``, else nothing."""
        if self.cfg.amp == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    @property
    def sampler(self) -> nn.Module:
        """The generator of the sample grids: the EMA generator when there is one."""
        return self.ema if self.ema is not None else self.generator
