"""Centroid constraint benchmark: step overhead, fit throughput and fit peak memory.

Every figure is a ratio of two timings taken side by side in this run, on the same batch:

1. overhead = (generator step with the penalty − step without) / (backbone forward+backward);
   target ≤ 1.10 (no waste beyond the backbone itself). Also weight=0 and lazy every=4/16.
2. fit throughput / raw backbone inference throughput, for the exact two-pass mode
   (memory_budget=0; target ≥ 0.45) and the one-pass mode (features kept; target ≥ 0.9).
3. peak resident memory of a two-pass fit at N and 4N images, each in a fresh process
   (must not grow with N).

Usage: python benchmarks/centroid_benchmark.py [--feature-space vgg16] [--size 64] [--batch 16]
Writes JSON to stdout (and --out FILE). Backbones are randomly initialised (no download):
timings do not depend on the weights' values.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from gan_regularizers import CentroidLoss, __version__, get_feature_space


def median_time(function: Callable[[], Any], repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def tiny_generator(size: int, channels: int) -> nn.Module:
    return nn.Sequential(
        nn.Linear(64, 128 * 4 * 4),
        nn.Unflatten(1, (128, 4, 4)),
        nn.Upsample(size=size),
        nn.Conv2d(128, channels, 3, padding=1),
        nn.Tanh(),
    )


def space_options(name: str, dtype: str | None = None) -> dict[str, Any]:
    options: dict[str, Any] = (
        {"pretrained": False} if name in ("vgg16", "clip", "dino", "timm") else {}
    )
    if dtype and dtype != "float32":
        options["dtype"] = dtype  # the backbone runs under autocast; features come back float32
    return options


def measure_step_overhead(args: argparse.Namespace) -> dict[str, Any]:
    torch.manual_seed(0)
    options = space_options(args.feature_space, getattr(args, "dtype", None))
    space = get_feature_space(args.feature_space, **options)
    channels = args.channels
    channels_last = getattr(args, "channels_last", False)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    real = torch.rand(args.batch * 4, channels, args.size, args.size) * 2 - 1
    generator = tiny_generator(args.size, channels).to(memory_format=memory_format)
    optimizer = torch.optim.Adam(generator.parameters(), lr=1e-4)
    z = torch.randn(args.batch, 64)
    images = (torch.rand(args.batch, channels, args.size, args.size) * 2 - 1).contiguous(
        memory_format=memory_format
    )
    images.requires_grad_()

    def backbone_forward_backward() -> None:
        images.grad = None
        space(images).sum().backward()

    def step(regularizer: nn.Module | None) -> Callable[[], None]:
        """One generator step; a lazy regularizer (``every = k``) is applied as the training loop
        applies it: on steps 1, 1 + k, … with its value × k, not called on the others."""
        every = int(getattr(regularizer, "every", 1))
        count = [0]

        def run() -> None:
            count[0] += 1
            optimizer.zero_grad(set_to_none=True)
            fake = generator(z).contiguous(memory_format=memory_format)
            loss = fake.square().mean()  # stands in for the adversarial term
            if regularizer is not None and (count[0] - 1) % every == 0:
                loss = loss + every * regularizer(fake)
            loss.backward()
            optimizer.step()

        return run

    def fitted(**kwargs: Any) -> CentroidLoss:
        loss = CentroidLoss(space, progress=False, **kwargs)
        return loss.fit(real, batch_size=args.batch)

    def interleaved(
        penalised: Callable[[], None], calls: int
    ) -> tuple[list[float], list[float], list[float]]:
        """Per-call seconds of backbone fwd+bwd, plain step and penalised step, taken in turn
        (A B C A B C …) so that a change of the shared machine's load hits all three alike."""
        for function in (backbone_forward_backward, step(None), penalised):
            function()
            function()
        times: tuple[list[float], list[float], list[float]] = ([], [], [])
        for _ in range(calls):
            for column, function in zip(
                times, (backbone_forward_backward, step(None), penalised), strict=True
            ):
                start = time.perf_counter()
                function()
                column.append(time.perf_counter() - start)
        return times

    results: dict[str, Any] = {}
    for label, kwargs in {
        "weight_0": {"weight": 0.0},
        "every_step": {"weight": 0.1},
        "lazy_every_4": {"weight": 0.1, "every": 4},
        "lazy_every_16": {"weight": 0.1, "every": 16},
    }.items():
        every = int(kwargs.get("every", 1))
        if every > 1:
            # A median would hide the one penalised step in `every`: take means over whole
            # cycles (the amortised cost); whatever the warm-up's phase, `calls` whole cycles
            # hold exactly calls / every penalised steps.
            calls = every * max(2, -(-args.repeats // every))
            backbone_times, plain_times, penalised_times = interleaved(
                step(fitted(**kwargs)), calls
            )
            backbone = statistics.fmean(backbone_times)
            plain = statistics.fmean(plain_times)
            penalised = statistics.fmean(penalised_times)
            timing = f"means of {calls} interleaved calls ({calls // every} whole cycles)"
        else:
            backbone_times, plain_times, penalised_times = interleaved(
                step(fitted(**kwargs)), args.repeats
            )
            backbone = statistics.median(backbone_times)
            plain = statistics.median(plain_times)
            penalised = statistics.median(penalised_times)
            timing = f"medians of {args.repeats} interleaved calls"
        results[label] = {
            "backbone_forward_backward_s": backbone,
            "plain_step_s": plain,
            "step_s": penalised,
            "overhead_over_backbone": (penalised - plain) / backbone,
            "timing": timing,
        }
    results["backbone_forward_backward_s"] = results["every_step"]["backbone_forward_backward_s"]
    results["plain_step_s"] = results["every_step"]["plain_step_s"]
    return results


def measure_fit_throughput(args: argparse.Namespace) -> dict[str, Any]:
    torch.manual_seed(0)
    space = get_feature_space(args.feature_space, **space_options(args.feature_space))
    n = args.batch * args.fit_batches
    real = torch.rand(n, args.channels, args.size, args.size) * 2 - 1

    def raw_inference() -> None:
        with torch.no_grad():
            for chunk in real.split(args.batch):
                space(chunk)

    raw = median_time(raw_inference, 3, warmup=1)
    results: dict[str, Any] = {"images": n, "raw_inference_images_per_s": n / raw}
    for label, budget in (("two_pass", 0), ("one_pass", 1 << 34)):
        seconds = median_time(
            lambda budget=budget: CentroidLoss(space, memory_budget=budget, progress=False).fit(
                real, batch_size=args.batch
            ),
            3,
            warmup=1,
        )
        results[label] = {
            "images_per_s": n / seconds,
            "throughput_over_raw_inference": raw / seconds,
        }
    return results


def peak_memory_child(args: argparse.Namespace) -> None:
    torch.set_num_threads(1)
    space = get_feature_space(args.feature_space, **space_options(args.feature_space))

    class Generated(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return args.child_images

        def __getitem__(self, index: int) -> torch.Tensor:
            generator = torch.Generator().manual_seed(index)
            shape = (args.channels, args.size, args.size)
            return torch.rand(shape, generator=generator) * 2 - 1

    CentroidLoss(space, memory_budget=0, progress=False).fit(Generated(), batch_size=args.batch)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)


def measure_peak_memory(args: argparse.Namespace) -> dict[str, Any]:
    peaks = {}
    for n in (args.memory_images, 4 * args.memory_images):
        command = [
            sys.executable,
            __file__,
            "--child-images",
            str(n),
            "--feature-space",
            args.feature_space,
            "--size",
            str(args.size),
            "--batch",
            str(args.batch),
            "--channels",
            str(args.channels),
        ]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        peaks[n] = int(output.strip().splitlines()[-1])
    small, large = peaks.values()
    return {
        "peak_rss_bytes": {str(k): v for k, v in peaks.items()},
        "ratio_4N_over_N": large / small,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feature-space", default="vgg16")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--fit-batches", type=int, default=8)
    parser.add_argument("--memory-images", type=int, default=256)
    parser.add_argument("--child-images", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    if args.child_images:
        peak_memory_child(args)
        return
    torch.set_num_threads(args.threads or torch.get_num_threads())
    report = {
        "protocol": {
            "feature_space": args.feature_space,
            "weights": "random initialisation (timings only)",
            "image_size": args.size,
            "channels": args.channels,
            "batch": args.batch,
            "dtype": args.dtype,
            "channels_last": args.channels_last,
            "device": "cpu",
            "threads": torch.get_num_threads(),
            "machine": platform.processor() or platform.machine(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "gan_regularizers": __version__,
            "timing": "backbone, plain and penalised steps interleaved; medians (lazy: means)",
        },
        "step_overhead": measure_step_overhead(args),
        "fit_throughput": measure_fit_throughput(args),
        "fit_peak_memory": measure_peak_memory(args),
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as file:
            file.write(text + "\n")


if __name__ == "__main__":
    main()
