"""The loop's schedule duties: set every scheduled value before a step, step the controllers after.

Before step ``t`` (1-based), with ``t − 1`` steps done and ``n = (t − 1) · B`` images seen (``B``
the global batch size), ``RunSchedules.before_step``:

* sets every scheduled plugin option (``r1:gamma=linear(10,1,2000)``) to its value at
  ``(t − 1, n)`` (``ScheduledOptions``);
* sets each optimiser's ``lr`` and ``betas`` from ``g_lr``/``d_lr``/``beta1``/``beta2`` (numbers or
  schedules), rescaled with ``lazy_adam`` by StyleGAN2's ``mb_ratio c = k/(k+1)`` (``lr·c``,
  ``β^c``), ``k`` the largest ``every`` of that player's regularizers;
* computes the step's G-EMA β (``ema_decay``'s warm-up or ``ema_kimg``'s half-life, see
  ``ema``).

After the step, ``RunSchedules.after_step`` calls ``adapt(B)`` on every regularizer that has
it (the adaptive centroid, ``Steered``). Values are logged as
``sched/<term>/<option>``, ``sched/train/<key>`` and ``sched/ema/beta``; all of them are functions
of the step (or, for controllers, registered buffers), so a resumed run continues them exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gan_regularizers.schedules import ScheduledOptions, parse_schedule, value_at
from gan_regularizers.training.config import SCHEDULABLE_KEYS, TrainConfig, ema_enabled
from gan_regularizers.training.ema import ema_beta, half_life_beta


def config_schedule(value: Any) -> Any:
    """A config value as a number or a ``Schedule`` (schedules are stored as text)."""
    return parse_schedule(value) if isinstance(value, str) else value


def config_value(cfg: TrainConfig, key: str, step: int = 0, images_seen: int = 0) -> float:
    """The value of ``key`` after ``step`` steps and ``images_seen`` images."""
    return float(value_at(config_schedule(getattr(cfg, key)), step, images_seen))


def mb_ratio(every: int) -> float:
    """StyleGAN2's ``k / (k + 1)`` for a lazy period ``k`` (1 when ``k = 1``)."""
    return every / (every + 1.0) if every > 1 else 1.0


def adam_hyperparameters(
    lr: float, beta1: float, beta2: float, ratio: float = 1.0
) -> tuple[float, tuple[float, float]]:
    """``(lr · c, (β1^c, β2^c))`` for the ratio ``c``."""
    return lr * ratio, (beta1**ratio, beta2**ratio)


def lazy_periods(terms: Mapping[str, Any]) -> dict[str, int]:
    """The largest ``every`` among each player's regularizers (1 without any)."""
    periods = {"generator": 1, "discriminator": 1}
    for term in terms.values():
        periods[term.side] = max(periods[term.side], int(term.every))
    return periods


@dataclass
class RunSchedules:
    """Every scheduled value of a run (see the module docstring)."""

    cfg: TrainConfig
    plugins: ScheduledOptions
    ratios: dict[str, float]
    values: dict[str, float] = field(default_factory=dict)

    @classmethod
    def build(
        cls, cfg: TrainConfig, owners: Mapping[str, Any], terms: Mapping[str, Any]
    ) -> RunSchedules:
        """From the config and ``{log name: plugin}`` (regularizer terms, ``loss``, ``augment``)."""
        periods = lazy_periods(terms) if cfg.lazy_adam else {}
        ratios = {side: mb_ratio(periods.get(side, 1)) for side in ("generator", "discriminator")}
        return cls(cfg, ScheduledOptions.collect(owners), ratios)

    def progress(self, step: int) -> tuple[int, int]:
        """``(steps done, images seen)`` before the 1-based ``step``."""
        return step - 1, (step - 1) * self.cfg.batch_size

    def before_step(self, run: Any, step: int) -> None:
        """Set the plugins' options, the optimisers' lr and betas and the EMA β for ``step``."""
        done, images = self.progress(step)
        self.values = self.plugins.apply(done, images)
        for side, optimizer, key in (
            ("generator", run.g_optimizer, "g_lr"),
            ("discriminator", run.d_optimizer, "d_lr"),
        ):
            self._set_adam(optimizer, key, side, done, images)
        for key in sorted(SCHEDULABLE_KEYS):
            if isinstance(getattr(self.cfg, key), str):
                self.values[f"sched/train/{key}"] = config_value(self.cfg, key, done, images)
        if ema_enabled(self.cfg) and self.cfg.ema_kimg != 0:
            self.values["sched/ema/beta"] = self.ema_beta(step)

    def _set_adam(self, optimizer: Any, key: str, side: str, done: int, images: int) -> None:
        lr, betas = adam_hyperparameters(
            config_value(self.cfg, key, done, images),
            config_value(self.cfg, "beta1", done, images),
            config_value(self.cfg, "beta2", done, images),
            self.ratios[side],
        )
        for group in optimizer.param_groups:
            group["lr"], group["betas"] = lr, betas

    def ema_beta(self, step: int) -> float:
        """The G-EMA β of the 1-based ``step`` (see ``ema``)."""
        done, images = self.progress(step)
        if self.cfg.ema_decay > 0:
            return ema_beta(self.cfg.ema_decay, step)
        kimg = config_value(self.cfg, "ema_kimg", done, images)
        return half_life_beta(self.cfg.batch_size, kimg, images, self.cfg.ema_rampup)

    def after_step(self, run: Any, step: int) -> None:
        """``adapt(B · every)`` on every regularizer that has it and ran on ``step``: one
        controller step over the images seen since its last call."""
        for term in run.terms.values():
            adapt = getattr(term.module, "adapt", None)
            if callable(adapt) and term.active(step):
                adapt(self.cfg.batch_size * term.every)
