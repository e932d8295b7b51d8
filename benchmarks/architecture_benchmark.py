"""The package's training step against a hand-written loop over the same modules.

``resnet`` (SNGAN, default widths: G 4,276,739 and D 1,053,825 parameters) at 32×32, RGB, batch
64, hinge loss, Adam (2e-4, β = (0, 0.9)), one torch thread. Both sides start from the same
weights and train on the same random images in [-1, 1] (1,024 of them) with the same latents.

* package: a run built by ``gan_regularizers.training.run_builder.build_run`` from a config
  (``architecture = "resnet"``, no EMA, no regularizer), one iteration of the loop body: the next
  batch from its ``BatchStream``, latents from its latent generator, ``train_step`` (D step,
  G step with D frozen, the logged values reduced and checked for NaN/Inf). Logging rows, sample
  grids and checkpoints (every ``log_every``/``sample_every``/``checkpoint_every`` steps) are
  per-run work and not timed.
* hand-written: the same two modules and optimisers in the usual seven lines, with D frozen in
  the G step as in the package:
  ``fake = G(z); L_D = relu(1 − D(x)) + relu(1 + D(fake.detach())); step D;
  L_G = −D(fake); step G``.

Rounds are interleaved (package, hand, hand, package, …) so that the shared machine's load hits
both alike; each side's images/s is its batch × steps over its total time, both wall-clock and
CPU time of the (single) working thread (``time.thread_time``, which a shared machine's
scheduling does not stretch); the ratios package / hand are printed. One warm-up step each.

Usage: python benchmarks/architecture_benchmark.py [--rounds 5] [--steps 2] [--batch 64]
Prints JSON (and writes it to --out).
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from gan_regularizers import __version__


def package_run(batch: int, folder: Path, dataset: Any, architecture: str = "resnet") -> Any:
    from gan_regularizers.distributed import DistributedContext
    from gan_regularizers.training.config import load_config
    from gan_regularizers.training.run_builder import build_run

    cfg = load_config(None, {
        "architecture": architecture, "z_dim": 128, "loss": "hinge", "batch_size": batch,
        "g_lr": 2e-4, "d_lr": 2e-4, "beta1": 0.0, "beta2": 0.9, "steps": 10**6, "quiet": True,
        "tensorboard": False, "plots": False, "data": "<user dataset: random>", "threads": 1,
    })  # fmt: skip
    context = DistributedContext(rank=0, world_size=1, local_rank=0, created=False)
    return build_run(cfg, None, dataset, torch.device("cpu"), context, folder)


def package_steps(run: Any, batches: Any, count: int, state: dict[str, int]) -> None:
    from gan_regularizers.training.step import train_step

    for _ in range(count):
        state["step"] += 1
        real = next(batches)
        z = torch.randn(run.stream.local_batch_size, run.cfg.z_dim, generator=run.latent_generator)
        train_step(run, real, z, state["step"])


def hand_steps(modules: dict[str, Any], images: torch.Tensor, count: int, state: dict) -> None:
    g, d, g_opt, d_opt = modules["g"], modules["d"], modules["g_opt"], modules["d_opt"]
    batch = modules["batch"]
    for _ in range(count):
        start = (state["position"] * batch) % (images.shape[0] - batch + 1)
        state["position"] += 1
        real = images[start : start + batch]
        z = torch.randn(batch, 128, generator=modules["latents"])
        fake = g(z)
        d_loss = F.relu(1 - d(real)).mean() + F.relu(1 + d(fake.detach())).mean()
        d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        d_opt.step()
        d.requires_grad_(False)
        g_loss = -d(fake).mean()
        g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        g_opt.step()
        d.requires_grad_(True)


def hand_modules(run: Any, batch: int) -> dict[str, Any]:
    import copy

    g, d = copy.deepcopy(run.generator), copy.deepcopy(run.discriminator)
    return {
        "g": g, "d": d, "batch": batch, "latents": torch.Generator().manual_seed(1),
        "g_opt": torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.0, 0.9)),
        "d_opt": torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.0, 0.9)),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=2, help="steps per side per round")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument(
        "--architecture",
        default="resnet",
        help="the spec timed (default resnet, SNGAN's widths); narrower widths, e.g. "
        "resnet:g_width=64,d_width=64, make the loop's own overhead a larger share of a step",
    )
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    from gan_regularizers.data.tensors import TensorImages

    images = torch.rand(1024, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    dataset = TensorImages(images, torch.zeros(1024, dtype=torch.long), "random")
    with tempfile.TemporaryDirectory() as folder:
        run = package_run(args.batch, Path(folder), dataset, args.architecture)
        hand = hand_modules(run, args.batch)
        batches, package_state, hand_state = iter(run.stream), {"step": 0}, {"position": 0}
        package_steps(run, batches, 1, package_state)  # warm-up
        hand_steps(hand, images, 1, hand_state)
        seconds = {"package": 0.0, "hand": 0.0}
        cpu = {"package": 0.0, "hand": 0.0}
        for round_index in range(args.rounds):
            order = ("package", "hand") if round_index % 2 == 0 else ("hand", "package")
            for side in order:
                start, start_cpu = time.perf_counter(), time.thread_time()
                if side == "package":
                    package_steps(run, batches, args.steps, package_state)
                else:
                    hand_steps(hand, images, args.steps, hand_state)
                seconds[side] += time.perf_counter() - start
                cpu[side] += time.thread_time() - start_cpu
    count = args.rounds * args.steps * args.batch
    rate = {side: count / total for side, total in seconds.items()}
    cpu_rate = {side: count / total for side, total in cpu.items()}
    result = {
        "benchmark": f"architecture: {args.architecture} 32×32, package step vs hand-written loop",
        "images_per_s": rate,
        "ratio_package_over_hand": rate["package"] / rate["hand"],
        "images_per_cpu_s": cpu_rate,
        "cpu_ratio_package_over_hand": cpu_rate["package"] / cpu_rate["hand"],
        "rounds": args.rounds, "steps_per_round": args.steps, "batch": args.batch,
        "threads": 1, "torch": torch.__version__, "gan_regularizers": __version__,
        "machine": platform.processor() or platform.machine(),
    }  # fmt: skip
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
