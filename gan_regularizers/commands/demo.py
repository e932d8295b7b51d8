"""``gan-regularizers demo``: DCGAN-32 on mnist5k, BCE against BCE + centroid, one report.

Both runs share the seed, the data order, the latents and the fixed sample z; the only difference
is the centroid penalty ``λ · mean_j max(0, ‖φ(x̂_j) − c‖₂ − d_ref)`` in the embedded
``mnist-features`` space. The default size trains in a few minutes on a 2-core CPU, offline.
"""

from __future__ import annotations

import argparse
import time
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

DEMO_FEATURE_SPACE = "mnist-features"


@dataclass(frozen=True)
class DemoSettings:
    """The demo's size: chosen so both runs fit in 5 minutes on 2 CPU cores."""

    steps: int = 1000
    batch_size: int = 32
    width: int = 32
    weight: float = 0.1
    seed: int = 0
    device: str = "auto"
    quiet: bool = False
    num_samples: int = 64
    centroid_options: tuple[str, ...] = ()
    threads: int = 1
    eval_images: int = 2000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``demo`` sub-command's arguments."""
    defaults = DemoSettings()
    parser.add_argument(
        "--out", type=Path, default=None, help="output folder (default runs/demo-<date-time>)"
    )
    parser.add_argument("--steps", type=int, default=defaults.steps, help="steps per run")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument(
        "--width", type=int, default=defaults.width, help="DCGAN base width of G and D"
    )
    parser.add_argument(
        "--weight", type=float, default=defaults.weight, help="centroid weight λ (paper: 0.1)"
    )
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--device", default=defaults.device, help="auto, cpu or cuda")
    parser.add_argument(
        "--threads",
        type=int,
        default=defaults.threads,
        help="CPU threads for torch (default 1: these small networks gain little from more, "
        "and lose a lot when the cores are shared)",
    )
    parser.add_argument("--quiet", action="store_true", help="plain log lines, no progress bar")
    parser.add_argument(
        "--eval-images",
        type=int,
        default=defaults.eval_images,
        help="generated images per run for the metrics (0 skips them)",
    )
    parser.add_argument(
        "--centroid-option",
        dest="centroid_options",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra option of the centroid, e.g. radius=quantile (repeatable)",
    )


def run_demo(out_dir: Path, settings: DemoSettings = DemoSettings()) -> Path:
    """Train both runs into ``out_dir/bce`` and ``out_dir/bce+centroid``; return the report."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(settings.threads)
    try:
        return _run_both(out_dir, settings)
    finally:
        torch.set_num_threads(threads)


def _run_both(out_dir: Path, settings: DemoSettings) -> Path:
    from gan_regularizers.training.loop import train
    from gan_regularizers.training.metrics_log import read_metrics
    from gan_regularizers.training.plots import plot_runs
    from gan_regularizers.training.report import write_comparison_report

    out_dir.mkdir(parents=True, exist_ok=True)
    common: dict[str, Any] = {
        "data": "mnist5k",
        "image_size": 32,
        "loss": "bce",
        "steps": settings.steps,
        "batch_size": settings.batch_size,
        "g_width": settings.width,
        "d_width": settings.width,
        "seed": settings.seed,
        "device": settings.device,
        "quiet": settings.quiet,
        "num_samples": settings.num_samples,
        "log_every": max(1, settings.steps // 50),
        "sample_every": max(1, settings.steps // 4),
        "checkpoint_every": settings.steps,
    }
    centroid = ",".join(
        [
            f"centroid:weight={settings.weight}",
            f"feature_space={DEMO_FEATURE_SPACE}",
            *settings.centroid_options,
        ]
    )
    plans = {"bce": [], "bce+centroid": [centroid]}
    runs: dict[str, Path] = {}
    results: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    for label, regularizers in plans.items():
        start = time.perf_counter()
        results[label] = train(
            None, **common, regularizers=regularizers, run_dir=str(out_dir / label)
        )
        seconds[label] = time.perf_counter() - start
        runs[label] = out_dir / label
    rows = {label: read_metrics(path) for label, path in runs.items()}
    curves = plot_runs(rows, out_dir)
    extra = [
        *_metrics_comparison(runs, out_dir, settings),
        *_centroid_comparison(results, settings),
    ]
    intro = [
        f"DCGAN 32×32 (width {settings.width}) on mnist5k, {settings.steps} steps of batch "
        f"{settings.batch_size}, Adam 2e-4 (0.5, 0.999), seed {settings.seed}, loss `bce`; "
        f"the second run adds `{centroid}`. {settings.threads} CPU thread(s), device "
        f"`{settings.device}`.",
        "",
        "Wall time (training, centroid fit included): "
        + ", ".join(f"{label} {s:.0f} s" for label, s in seconds.items())
        + f"; total {sum(seconds.values()):.0f} s.",
    ]
    return write_comparison_report(
        out_dir, "Demo: BCE vs BCE + centroid (mnist5k)", intro, runs, rows, curves, extra
    )


def _metrics_comparison(runs: dict[str, Path], out_dir: Path, settings: DemoSettings) -> list[str]:
    """Both runs' metrics (the ``compare`` command), in a space no regularizer used."""
    if settings.eval_images < 2:
        return []
    from gan_regularizers.commands.compare import (
        compare_runs,
        comparison_table,
        protocol_lines,
        write_comparison,
    )

    per_run = compare_runs(
        list(runs.values()),
        num_samples=settings.eval_images,
        seed=settings.seed,
        progress=not settings.quiet,
    )
    written = write_comparison(per_run, out_dir / "comparison")
    lines = [
        "## Metrics",
        "",
        f"{settings.eval_images} generated images per run against the 5,000 real digits, "
        "measured in `mnist-classifier` (a separate network; neither run was regularized in "
        "its space). 95% intervals in brackets; see the protocol below.",
        "",
        *comparison_table(per_run),
        "",
    ]
    if "chart" in written:
        lines += [f"![metrics](comparison/{written['chart'].name})", ""]
    return [
        *lines,
        *["#" + line if line.startswith("## ") else line for line in protocol_lines(per_run)],
    ]


def _centroid_comparison(results: dict[str, Any], settings: DemoSettings) -> list[str]:
    """Both final generators' fixed-z samples measured by the fitted centroid (its diagnostics)."""
    import torch

    from gan_regularizers.training.samples import generate

    regularizer = results["bce+centroid"].regularizers.get("centroid")
    if regularizer is None:
        return []
    z = torch.randn(256, 100, generator=torch.Generator().manual_seed(settings.seed + 2))
    measured: dict[str, dict[str, float]] = {}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "called under no_grad": on purpose here
        for label, result in results.items():
            device = next(result.generator.parameters()).device
            regularizer(generate(result.generator, z).to(device))
            measured[label] = dict(getattr(regularizer, "diagnostics", {}) or {})
    keys = sorted({k for d in measured.values() for k in d})
    if not keys:
        return []
    lines = [
        "## Samples seen by the centroid",
        "",
        f"256 samples of each final generator (eval mode, a separate fixed z) measured in "
        f"`{DEMO_FEATURE_SPACE}` against the real images' centre c and mean distance d_ref "
        "(the regularizer's `diagnostics`).",
        "",
        "| diagnostic | " + " | ".join(measured) + " |",
        "|---" * (len(measured) + 1) + "|",
    ]
    for key in keys:
        cells = " | ".join(f"{d.get(key, float('nan')):.4g}" for d in measured.values())
        lines.append(f"| {key} | {cells} |")
    return [*lines, ""]


def run(args: argparse.Namespace) -> int:
    """Run the demo; print where the report is."""
    from gan_regularizers.training.config import ConfigError

    if min(args.steps, args.batch_size, args.width, args.threads) < 1:
        raise ConfigError("--steps, --batch-size, --width and --threads must be positive integers.")
    out = args.out or Path("runs") / f"demo-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    settings = DemoSettings(
        steps=args.steps,
        batch_size=args.batch_size,
        width=args.width,
        weight=args.weight,
        seed=args.seed,
        device=args.device,
        quiet=args.quiet,
        centroid_options=tuple(args.centroid_options),
        threads=args.threads,
        eval_images=args.eval_images,
    )
    start = time.perf_counter()
    report = run_demo(out, settings)
    print(f"demo finished in {time.perf_counter() - start:.0f} s; report: {report}")
    return 0
