"""Where the loop's numbers go: interval means, ``metrics.jsonl``, TensorBoard, the progress bar.

``IntervalMeans`` averages each step's values over the ``log_every`` steps of an interval;
``LogSinks`` turns an interval into one row (plus each regularizer's ``diagnostics``,
``images_per_s`` of the interval and ``elapsed_s`` of the whole run) and writes it to every sink.
Only rank 0 writes; the other ranks keep the means (they take part in the same collectives).
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gan_regularizers.errors import DiscriminatorSaturationWarning
from gan_regularizers.plugin_system.contracts import LogitSummary
from gan_regularizers.training.metrics_log import MetricsLog
from gan_regularizers.training.run import Run

SATURATED_INTERVALS = 5


class IntervalMeans:
    """Running sums of per-step values; ``take`` returns their means and starts over."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.steps = 0
        self.start = time.perf_counter()

    def add(self, values: Mapping[str, float]) -> None:
        for key, value in values.items():
            self.sums[key] = self.sums.get(key, 0.0) + value
        self.steps += 1

    def take(self) -> tuple[dict[str, float], int, float]:
        """``(means, steps, seconds)`` of the interval; the next interval starts now."""
        now = time.perf_counter()
        means = {k: v / self.steps for k, v in self.sums.items()}
        taken = (means, self.steps, now - self.start)
        self.sums, self.steps, self.start = {}, 0, now
        return taken


class SaturationMonitor:
    """One warning when D's outputs saturate for ``SATURATED_INTERVALS`` logged rows in a row.

    It knows no particular loss, only the loss's
    ``LogitSummary``. A row is saturated when the
    adversarial D loss is below 1e-3 and D separates real from fake completely: with a bounded
    summary (``bounds = (lo, hi)``, e.g. BCE's sigmoid in ``(0, 1)``) the real summary lies within
    1 % of the range from ``hi`` and the fake one within 1 % from ``lo``; with raw outputs (no
    bounds, whatever the equilibrium: LSGAN has one on raw outputs) ``d_real > d_fake``.
    """

    def __init__(self, summary: LogitSummary, limit: int = SATURATED_INTERVALS) -> None:
        self.summary, self.limit = summary, limit
        self.run, self.warned = 0, False

    def saturated(self, row: Mapping[str, Any]) -> bool:
        loss = row.get("loss_d_adv", row["loss_d"])
        if self.summary.bounds is not None:
            low, high = self.summary.bounds
            margin = 0.01 * (high - low)
            apart = row["d_real"] > high - margin and row["d_fake"] < low + margin
        else:
            apart = row["d_real"] > row["d_fake"]
        return abs(loss) < 1e-3 and apart

    def check(self, row: Mapping[str, Any]) -> None:
        self.run = self.run + 1 if self.saturated(row) else 0
        if self.run >= self.limit and not self.warned:
            self.warned = True
            warnings.warn(
                f"the discriminator has saturated for {self.run} logged intervals in a row (up to "
                f"step {row['step']}: loss_d {row['loss_d']:.2g}, {self.summary.label} real "
                f"{row['d_real']:.3g} vs fake {row['d_fake']:.3g}): it wins outright and the "
                "generator gets no useful gradient. Lower d_lr, add a discriminator regularizer "
                "(e.g. r1) or an augmentation, or check the data.",
                DiscriminatorSaturationWarning,
                stacklevel=2,
            )


class Progress:
    """A tqdm bar (steps/s, ETA, current losses), or plain log lines with ``quiet``."""

    def __init__(self, total: int, initial: int, quiet: bool, label: str, enabled: bool) -> None:
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
            label = row.get("d_label", "D")
            print(
                f"[{self.label}] step {step}/{self.total}  loss_d {row['loss_d']:.4f}  "
                f"loss_g {row['loss_g']:.4f}  {label} real {row['d_real']:.3f}  "
                f"fake {row['d_fake']:.3f}  {rate:.2f} steps/s  ETA {eta:.0f} s",
                file=sys.stderr,
                flush=True,
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def tensorboard_writer(run_dir: Path, enabled: bool) -> Any:
    """A TensorBoard ``SummaryWriter`` into ``run_dir/tensorboard``, or None."""
    if not enabled:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is optional
        return None
    return SummaryWriter(log_dir=str(run_dir / "tensorboard"))


class LogSinks:
    """Every sink of one run: rows to ``metrics.jsonl`` and TensorBoard, the progress display."""

    def __init__(self, run: Run, resumed: bool) -> None:
        cfg, main = run.cfg, run.context.is_main
        self.batch_size, self.summary = cfg.batch_size, run.summary
        resume_step = run.start_step if resumed else None
        self.metrics = MetricsLog(run.run_dir, resume_step) if main else None
        self.writer = tensorboard_writer(run.run_dir, cfg.tensorboard and main)
        self.progress = Progress(cfg.steps, run.start_step, cfg.quiet, run.run_dir.name, main)
        self.saturation = SaturationMonitor(run.summary)
        self.means = IntervalMeans()
        self.last: dict[str, Any] = {}

    def row(self, step: int, diagnostics: Mapping[str, float], elapsed: float) -> dict[str, Any]:
        """Close the interval ending at ``step`` into one row, and write it."""
        means, steps, seconds = self.means.take()
        row: dict[str, Any] = {"step": step, **means, **diagnostics}
        row["images_per_s"] = steps * self.batch_size / seconds if seconds > 0 else 0.0
        row["elapsed_s"] = elapsed
        row["d_label"], row["d_equilibrium"] = self.summary.label, self.summary.equilibrium
        if self.metrics is not None:
            self.metrics.write(row)
        if self.writer is not None:
            for key, value in row.items():
                if isinstance(value, (int, float)) and key not in ("step", "d_equilibrium"):
                    self.writer.add_scalar(key, value, step)
        if self.metrics is not None:
            self.saturation.check(row)
        self.last = row
        return row

    def close(self) -> None:
        self.progress.close()
        if self.metrics is not None:
            self.metrics.close()
        if self.writer is not None:
            self.writer.close()
