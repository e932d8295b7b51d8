"""``gan-regularizers fit``: fit the centroid's reference statistics (c, d_ref) and save them."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``fit`` sub-command's arguments."""
    parser.add_argument("--data", default="mnist5k", help="dataset spec (default mnist5k)")
    parser.add_argument(
        "--feature-space", required=True, help="feature space name, e.g. mnist-features or vgg16"
    )
    parser.add_argument("--out", required=True, type=Path, help="statistics file to write (.pt)")
    parser.add_argument("--image-size", type=int, default=None, help="32 or 64 (default: 32)")
    parser.add_argument("--max-images", type=int, default=None, help="use at most N images")
    parser.add_argument("--batch-size", type=int, default=64, help="images per batch")
    parser.add_argument(
        "--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)"
    )
    parser.add_argument(
        "--option",
        dest="options",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra option of the centroid / feature space, e.g. layer=features.16 (repeatable)",
    )


def run(args: argparse.Namespace) -> int:
    """Fit on the data; save to ``--out``; print the statistics' summary."""
    from gan_regularizers.data.sources import load_dataset
    from gan_regularizers.distributed import command_device, is_main_process, process_group
    from gan_regularizers.errors import GanRegularizersError
    from gan_regularizers.plugin_system.registry import get_regularizer
    from gan_regularizers.plugin_system.specs import parse_options
    from gan_regularizers.training.config import ConfigError

    if args.max_images is not None and args.max_images < 2:
        raise ConfigError(
            f"--max-images must be at least 2 (d_ref needs two images), got {args.max_images}."
        )
    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be a positive integer, got {args.batch_size}.")
    options = parse_options(",".join(args.options), what="--option")
    try:
        dataset = load_dataset(args.data, image_size=args.image_size or 32)
    except (FileNotFoundError, ValueError) as error:
        if isinstance(error, GanRegularizersError):
            raise
        raise ConfigError(f"--data {args.data}: {error}") from error
    try:
        centroid = get_regularizer("centroid", feature_space=args.feature_space, **options)
    except (TypeError, ValueError) as error:
        if isinstance(error, GanRegularizersError):
            raise
        raise ConfigError(f"centroid options {options}: {error}") from error
    with process_group(command_device(args.device)):
        centroid.to(command_device(args.device))
        centroid.fit(dataset, max_images=args.max_images, batch_size=args.batch_size)
        if not is_main_process():
            return 0  # the statistics are identical on every rank; rank 0 writes them
    args.out.parent.mkdir(parents=True, exist_ok=True)
    centroid.save(args.out)
    print(
        f"fitted {int(centroid.num_images)} images of {args.data} in {args.feature_space}: "
        f"d_ref = {float(centroid.d_ref):.6g}, ‖c‖ = {float(centroid.center.norm()):.6g}; "
        f"saved {args.out}"
    )
    return 0
