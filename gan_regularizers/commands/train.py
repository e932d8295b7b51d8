"""``gan-regularizers train``: train a GAN from a TOML config with command-line overrides.

``torchrun --nproc_per_node=N -m gan_regularizers train …`` runs the same command on N processes
with DistributedDataParallel (see docs/distributed.md).
"""

from __future__ import annotations

import argparse
from typing import Any

# Dedicated flags: (flag, config key, type, help). Anything else: --set KEY=VALUE.
FLAGS: list[tuple[str, str, type, str]] = [
    ("--data", "data", str, "dataset: mnist5k, folder:PATH, celeba:ROOT or synthetic"),
    ("--loss", "loss", str, "adversarial loss, e.g. bce, hinge or lsgan:a=-1,b=1"),
    (
        "--architecture",
        "architecture",
        str,
        "generator and discriminator, e.g. dcgan:g_width=32,d_width=32, resnet or mlp",
    ),
    (
        "--augment",
        "augment",
        str,
        "augmentation before every D call, e.g. diffaugment:policy=color,translation,cutout",
    ),
    ("--steps", "steps", int, "number of training iterations"),
    ("--batch-size", "batch_size", int, "images per batch"),
    ("--image-size", "image_size", int, "32 or 64"),
    ("--device", "device", str, "auto, cpu, cuda or cuda:N"),
    ("--amp", "amp", str, "none or bf16 (autocast)"),
    ("--seed", "seed", int, "random seed"),
    ("--threads", "threads", int, "CPU threads for torch (0: torch's default)"),
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``train`` sub-command's arguments."""
    parser.add_argument("--config", metavar="FILE", help="TOML config file (see docs/training.md)")
    for flag, key, kind, text in FLAGS:
        parser.add_argument(flag, dest=key, type=kind, default=None, help=text)
    parser.add_argument(
        "--out",
        "--run-dir",
        dest="run_dir",
        default=None,
        metavar="DIR",
        help="output folder (default runs/<date-time>); --run-dir is the same",
    )
    parser.add_argument(
        "--regularizer",
        dest="regularizers",
        action="append",
        default=None,
        metavar="SPEC",
        help="add a regularizer NAME[:key=value,…], e.g. r1:gamma=10,every=16 or "
        "centroid:weight=0.1,feature_space=vgg16 (repeatable; replaces the config file's list; "
        "every=k runs any regularizer every k steps with its weight × k)",
    )
    parser.add_argument(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any config key, e.g. --set g_lr=1e-4 (repeatable)",
    )
    parser.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its checkpoint")
    parser.add_argument(
        "--quiet", action="store_true", default=None, help="plain log lines, no progress bar"
    )


def overrides_from(args: argparse.Namespace) -> dict[str, Any]:
    """Config overrides from the parsed flags and ``--set`` assignments."""
    from gan_regularizers.training.config import parse_assignment

    overrides: dict[str, Any] = {}
    for assignment in args.assignments:
        key, value = parse_assignment(assignment)
        overrides[key] = value
    for key in [item[1] for item in FLAGS] + ["run_dir"]:
        if getattr(args, key) is not None:
            overrides[key] = getattr(args, key)
    if args.regularizers is not None:
        overrides["regularizers"] = args.regularizers
    if args.quiet:
        overrides["quiet"] = True
    return overrides


def run(args: argparse.Namespace) -> int:
    """Train (under torchrun: on every rank); print where the outputs are (rank 0)."""
    from gan_regularizers.training.loop import train

    result = train(args.config, resume=args.resume, **overrides_from(args))
    if result.rank == 0:
        processes = f" on {result.world_size} processes" if result.world_size > 1 else ""
        print(
            f"trained {result.step} steps{processes}; outputs in {result.run_dir} "
            f"(report: {result.report})"
        )
    return 0
