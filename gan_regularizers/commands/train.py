"""``gan-regularizers train``: train a GAN from a TOML config with command-line overrides.

``torchrun --nproc_per_node=N -m gan_regularizers train …`` runs the same command on N processes
with DistributedDataParallel (see docs/distributed.md). ``--help`` shows every flag's default
(taken from ``TrainConfig``, so it cannot drift).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

# Dedicated flags: (flag, config key, type, help). Anything else: --set KEY=VALUE.
FLAGS: list[tuple[str, str, type, str]] = [
    ("--data", "data", str, "dataset: mnist5k, folder:PATH, celeba:ROOT, synthetic, mixture:ring8"),
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
        "augmentation before every D call, e.g. diffaugment:policy=color,translation,cutout "
        "(empty: none)",
    ),
    ("--steps", "steps", int, "number of training iterations"),
    ("--batch-size", "batch_size", int, "images per batch"),
    ("--image-size", "image_size", int, "32 or 64"),
    ("--g-lr", "g_lr", float, "the generator's Adam learning rate"),
    ("--d-lr", "d_lr", float, "the discriminator's Adam learning rate"),
    ("--device", "device", str, "auto, cpu, cuda or cuda:N"),
    ("--amp", "amp", str, "none or bf16 (autocast)"),
    ("--seed", "seed", int, "random seed"),
    ("--threads", "threads", int, "CPU threads for torch (0: torch's default)"),
]
INTERRUPTED = 130  # the shell's exit status after Ctrl-C


def _default(key: str) -> Any:
    from gan_regularizers.training.config import TrainConfig

    value = getattr(TrainConfig(), key)
    return repr(value) if value == "" else value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``train`` sub-command's arguments (``--help`` shows each default)."""
    parser.add_argument(
        "--config", metavar="FILE", help="TOML config file (see docs/training.md; default: none)"
    )
    for flag, key, kind, text in FLAGS:
        parser.add_argument(
            flag, dest=key, type=kind, default=None, help=f"{text} (default: {_default(key)})"
        )
    parser.add_argument(
        "--lr",
        type=float,
        default=None,
        help="both players' Adam learning rate: sets g_lr and d_lr (default: "
        f"{_default('g_lr')}); --g-lr / --d-lr override it for one player",
    )
    parser.add_argument(
        "--out",
        dest="run_dir",
        default=None,
        metavar="DIR",
        help="output folder (default: runs/<date-time>)",
    )
    parser.add_argument(
        "--regularizer",
        dest="regularizers",
        action="append",
        default=None,
        metavar="SPEC",
        help="add a regularizer NAME[:key=value,…], e.g. r1:gamma=10,every=16 or "
        "centroid:weight=0.1,feature_space=vgg16 (repeatable; replaces the config file's list; "
        "every=k runs any regularizer on training steps 1, 1+k, … with its value × k; "
        "default: none)",
    )
    parser.add_argument(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any config key, e.g. --set ema_decay=0.999 (repeatable; the keys and "
        "their defaults: docs/training.md)",
    )
    parser.add_argument(
        "--resume", metavar="RUN_DIR", help="continue a run from its checkpoint (default: none)"
    )
    parser.add_argument(
        "--quiet",
        action="store_true",
        default=None,
        help="plain log lines, no progress bar (default: off)",
    )


def overrides_from(args: argparse.Namespace) -> dict[str, Any]:
    """Config overrides from the parsed flags and ``--set`` assignments.

    Precedence, lowest first: ``--set``, ``--lr`` (both players), the dedicated flags."""
    from gan_regularizers.training.config import parse_assignment

    overrides: dict[str, Any] = {}
    for assignment in args.assignments:
        key, value = parse_assignment(assignment)
        overrides[key] = value
    if args.lr is not None:
        overrides.update(g_lr=args.lr, d_lr=args.lr)
    for key in [item[1] for item in FLAGS] + ["run_dir"]:
        if getattr(args, key) is not None:
            overrides[key] = getattr(args, key)
    if args.regularizers is not None:
        overrides["regularizers"] = args.regularizers
    if args.quiet:
        overrides["quiet"] = True
    return overrides


def run(args: argparse.Namespace) -> int:
    """Train (under torchrun: on every rank); print where the outputs are (rank 0).

    Ctrl-C writes a checkpoint of the last finished step and exits with status 130, printing how
    to resume."""
    from gan_regularizers.training.loop import train

    try:
        result = train(args.config, resume=args.resume, **overrides_from(args))
    except KeyboardInterrupt as interrupt:
        message = str(interrupt) or "interrupted"
        print(f"gan-regularizers train: {message}", file=sys.stderr)
        return INTERRUPTED
    if result.rank == 0:
        print(_summary(result))
    return 0


def _summary(result: Any) -> str:
    """``trained K steps …`` or, for a resume already at its last step, ``nothing to train``."""
    processes = f" on {result.world_size} processes" if result.world_size > 1 else ""
    where = f"outputs in {result.run_dir} (report: {result.report})"
    if result.trained_steps == 0:
        return (
            f"already at step {result.step} of {result.step}; nothing to train (raise --steps to "
            f"continue); {where}"
        )
    start = result.step - result.trained_steps
    span = f" (steps {start + 1}–{result.step})" if start > 0 else ""
    return f"trained {result.trained_steps} steps{span}{processes}; {where}"
