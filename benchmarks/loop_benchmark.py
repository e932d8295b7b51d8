"""Training-step throughput of the demo recipe: the generator step's D(x) forward on request only.

Before issue 19 the loop recomputed ``D(T(x))`` (no grad, plus an augmentation draw) in every
generator step for every loss; now only a loss with ``requires_real_logits = True`` pays for it.
This script measures what that saves on the demo recipe's training step: DCGAN-32 on mnist5k,
batch 64, BCE, the demo's widths, learning rate and EMA, one torch thread, on CPU.

* ``new``: the built-in ``bce`` loss (``requires_real_logits = False``): 3 D forwards per step;
* ``old``: ``bce-old``, the same BCE with ``requires_real_logits = True`` (it ignores the logits),
  registered here as an outside plugin: the old behaviour, 4 D forwards per step.

Both runs are built once by the training loop's own builder (``build_run``) and stepped by its
``train_step``, with the same real batches and latents. On a shared machine the load drifts
within seconds, so the variants are interleaved finely: blocks of ``--block`` steps in ABBA order
(old, new, new, old), ``--repeats`` times, after ``--warmup`` steps of each. Printed: each
variant's median images/s over its blocks, and the median (and quartiles) of the per-repeat
ratio new/old, each repeat pairing the two blocks of a variant taken around the same moment.

Usage: python benchmarks/loop_benchmark.py [--repeats 20] [--block 5] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from gan_regularizers import __version__, get_loss, hookimpl
from gan_regularizers.commands.demo import DemoSettings
from gan_regularizers.distributed import DistributedContext
from gan_regularizers.plugin_system.manager import get_plugin_manager
from gan_regularizers.training.config import load_config
from gan_regularizers.training.run_builder import build_run
from gan_regularizers.training.step import train_step


class OldBCE:
    """BCE that asks for ``D(T(x))`` in the generator step, as every loss did before."""

    requires_real_logits = True

    def __init__(self) -> None:
        self._bce = get_loss("bce")
        self.logit_summary = self._bce.logit_summary

    def discriminator_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor):
        return self._bce.discriminator_loss(real_logits, fake_logits)

    def generator_loss(self, fake_logits: torch.Tensor, real_logits: torch.Tensor | None = None):
        return self._bce.generator_loss(fake_logits)


class OldLoopPlugin:
    @hookimpl
    def register_losses(self, register: Any) -> None:
        register("bce-old", OldBCE)


def demo_config(run_dir: Path) -> dict[str, Any]:
    """The demo's BCE run (commands/demo.py's ``DemoSettings``), on CPU, one thread."""
    demo = DemoSettings()
    return {
        "data": "mnist5k",
        "image_size": 32,
        "batch_size": demo.batch_size,
        "g_width": demo.width,
        "d_width": demo.width,
        "g_lr": demo.lr,
        "d_lr": demo.lr,
        "ema_decay": demo.ema_decay,
        "device": "cpu",
        "threads": 1,
        "quiet": True,
        "tensorboard": False,
        "run_dir": str(run_dir),
    }


def build(loss: str, folder: Path) -> Any:
    """A run of the demo config with ``loss``, built as ``train`` builds it."""
    cfg = load_config(None, {**demo_config(folder / loss), "loss": loss})
    context = DistributedContext(rank=0, world_size=1, local_rank=0, created=False)
    return build_run(cfg, None, None, torch.device("cpu"), context, folder / loss)


def block(run: Any, batches: list[tuple[torch.Tensor, torch.Tensor]], first_step: int) -> float:
    """Seconds for ``train_step`` over ``batches``."""
    start = time.perf_counter()
    for offset, (real, z) in enumerate(batches):
        train_step(run, real, z, first_step + offset)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--block", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    get_plugin_manager().register(OldLoopPlugin(), name="loop-benchmark-old-bce")
    started = time.time()
    with tempfile.TemporaryDirectory() as folder:
        runs = {"old": build("bce-old", Path(folder)), "new": build("bce", Path(folder))}
    assert runs["old"].real_logits_in_g and not runs["new"].real_logits_in_g
    stream = iter(runs["new"].stream)
    batch = runs["new"].cfg.batch_size
    draw = [(next(stream), torch.randn(batch, runs["new"].cfg.z_dim)) for _ in range(args.block)]
    step = {"old": 1, "new": 1}
    for name, run in runs.items():
        block(run, draw[: args.warmup], step[name])
        step[name] += args.warmup
    seconds: dict[str, list[float]] = {"old": [], "new": []}
    ratios = []
    for _ in range(args.repeats):
        pair: dict[str, float] = {"old": 0.0, "new": 0.0}
        for name in ("old", "new", "new", "old"):
            taken = block(runs[name], draw, step[name])
            step[name] += args.block
            seconds[name].append(taken)
            pair[name] += taken
        ratios.append(pair["old"] / pair["new"])  # images/s new ÷ images/s old
    rate = {name: statistics.median(batch * args.block / t for t in seconds[name]) for name in runs}
    quartiles = statistics.quantiles(ratios, n=4)
    result = {
        "old_images_per_s": rate["old"],
        "new_images_per_s": rate["new"],
        "ratio_new_over_old": statistics.median(ratios),
        "ratio_quartiles": [quartiles[0], quartiles[2]],
        "ratios": ratios,
        "protocol": {
            "recipe": "demo BCE: DCGAN-32 on mnist5k, batch 64, widths/lr/EMA of DemoSettings",
            "interleaving": f"ABBA blocks of {args.block} train_step calls, {args.repeats} "
            f"repeats, after {args.warmup} warm-up steps each",
            "threads": torch.get_num_threads(),
            "device": "cpu",
        },
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "load_average_at_start": list(os.getloadavg())},
        "versions": {"gan_regularizers": __version__, "torch": torch.__version__},
        "seconds": round(time.time() - started, 1),
    }  # fmt: skip
    print(
        f"images/s (median of {2 * args.repeats} blocks each): old {rate['old']:.1f}, new "
        f"{rate['new']:.1f}; ratio new/old {result['ratio_new_over_old']:.3f} (quartiles "
        f"{quartiles[0]:.3f}–{quartiles[2]:.3f} over {args.repeats} ABBA repeats)"
    )
    if args.out is not None:
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
