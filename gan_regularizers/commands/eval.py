"""``gan-regularizers eval RUN``: metrics of a run's generator, written to ``RUN/metrics.json``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

DEFAULT_METRICS_MNIST = "fd:mnist-classifier,modes,lpips-div"
DEFAULT_METRICS = "fid,lpips-div"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``eval`` sub-command's arguments (shared with ``compare``)."""
    parser.add_argument("run", type=Path, help="a run folder, or a checkpoint file")
    add_metric_arguments(parser)


def add_metric_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--metrics",
        default=None,
        help="comma-separated: fid, fd:<feature space>, lpips-div, modes (default: "
        f"{DEFAULT_METRICS_MNIST} for mnist5k runs, else {DEFAULT_METRICS})",
    )
    parser.add_argument("--n", type=int, default=5000, help="generated images (default 5000)")
    parser.add_argument("--n-real", type=int, default=None, help="real images (default: all)")
    parser.add_argument("--pairs", type=int, default=5000, help="LPIPS pairs (default 5000)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0, help="latent and pair seed (default 0)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, … (default cpu)")
    parser.add_argument("--inception-weights", default=None, help="local Inception file for fid")
    parser.add_argument("--lpips-weights", default=None, help="local AlexNet file for LPIPS")
    parser.add_argument(
        "--allow-random-lpips",
        action="store_true",
        help="accept a randomly initialised LPIPS trunk (numbers are then not LPIPS)",
    )
    parser.add_argument("--no-cache", action="store_true", help="recompute reference statistics")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def metric_arguments(**values: Any) -> argparse.Namespace:
    """The metric options with their command-line defaults, updated with ``values``."""
    parser = argparse.ArgumentParser()
    add_metric_arguments(parser)
    args = parser.parse_args([])
    for key, value in values.items():
        if not hasattr(args, key):
            raise TypeError(f"unknown metric option {key!r}")
        setattr(args, key, value)
    return args


def default_metrics(data: str) -> str:
    return DEFAULT_METRICS_MNIST if data == "mnist5k" else DEFAULT_METRICS


def write_json_atomic(payload: Any, path: Path) -> Path:
    """Write JSON through a temporary file and ``os.replace``."""
    from gan_regularizers.files.atomic import atomic_write

    text = json.dumps(payload, indent=2) + "\n"
    return atomic_write(path, lambda file: file.write(text.encode("utf-8")))


def evaluate_run(run_path: Path, args: argparse.Namespace, explicit: bool) -> dict[str, Any]:
    """Evaluate one run; unavailable LPIPS weights skip ``lpips-div`` unless it was asked for.

    Under torchrun every rank calls this inside :func:`~gan_regularizers.distributed.
    process_group`; the samples are sharded and the statistics merged, so every rank returns the
    same payload.
    """
    return _evaluate_run(run_path, args, explicit)


def _evaluate_run(run_path: Path, args: argparse.Namespace, explicit: bool) -> dict[str, Any]:
    from gan_regularizers.data.sources import load_dataset
    from gan_regularizers.distributed import command_device
    from gan_regularizers.features.weights import WeightsUnavailableError
    from gan_regularizers.metrics.evaluate import (
        GeneratedImages,
        MetricError,
        evaluate,
        parse_metric_names,
    )
    from gan_regularizers.training.run_loading import load_run

    run = load_run(run_path, command_device(args.device))
    names = parse_metric_names(args.metrics or default_metrics(run.data))
    if "modes" in names and run.data != "mnist5k":
        raise MetricError(
            f"'modes' counts mnist-classifier's classes, so it needs an mnist5k run; {run.name} "
            f"was trained on {run.data!r}. Drop 'modes' from --metrics."
        )
    real = load_dataset(run.data, image_size=run.image_size)
    fake = GeneratedImages(run.generator, args.n, run.z_dim, args.seed, args.batch_size)
    skipped: dict[str, str] = {}

    def run_metrics(selected: list[str]) -> Any:
        return evaluate(
            fake,
            real,
            selected,
            n_real=args.n_real,
            batch_size=args.batch_size,
            seed=args.seed,
            lpips_pairs=min(args.pairs, args.n * (args.n - 1) // 2),
            inception_weights=args.inception_weights,
            lpips_weights=args.lpips_weights,
            allow_random_lpips=args.allow_random_lpips,
            regularizer_spaces=run.regularizer_spaces,
            cache=not args.no_cache,
            reference_split=f"{run.data}: all training images"
            if args.n_real is None
            else f"{run.data}: first {args.n_real} images",
            progress=not args.quiet,
        )

    try:
        result = run_metrics(names)
    except WeightsUnavailableError:
        if explicit or "lpips-div" not in names:
            raise
        names = [n for n in names if n != "lpips-div"]
        skipped["lpips-div"] = (
            "LPIPS's AlexNet trunk weights are not cached and cannot be downloaded here; "
            "pass --lpips-weights FILE"
        )
        result = run_metrics(names)
    payload = result.to_json()
    payload["run"] = {"name": run.name, "path": str(run.run_dir), "step": run.step}
    payload["regularizer_spaces"] = run.regularizer_spaces
    payload["skipped"] = skipped
    return payload


def run(args: argparse.Namespace) -> int:
    """Evaluate the run and write ``metrics.json`` beside it (rank 0 alone under torchrun)."""
    from gan_regularizers.distributed import command_device, is_main_process, process_group

    with process_group(command_device(args.device)):
        payload = evaluate_run(args.run, args, explicit=args.metrics is not None)
        if not is_main_process():
            return 0
    run_dir = args.run if args.run.is_dir() else args.run.parent
    path = write_json_atomic(payload, run_dir / "metrics.json")
    for name, metric in payload["metrics"].items():
        interval = (
            f" [{metric['low']:.4g}, {metric['high']:.4g}]" if metric["low"] is not None else ""
        )
        print(f"{name}: {metric['value']:.4g}{interval}")
    for name, reason in payload["skipped"].items():
        print(f"{name}: skipped ({reason})")
    print(f"wrote {path}")
    return 0
