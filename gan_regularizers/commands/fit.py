"""``gan-regularizers fit``: fit a regularizer's reference statistics and save them.

``--regularizer SPEC`` fits any regularizer with a ``fit`` (the centroid or a plugin's);
``--feature-space SPEC`` is the centroid's shorthand (``centroid:feature_space=SPEC``). A
regularizer with its own file format (a ``save`` method: the centroid's statistics file, loaded
with ``CentroidLoss.load``) writes it; any other writes its ``state_dict`` in the fitted-regularizer
format that ``train`` loads with ``fitted=FILE`` in the spec.

The centroid's statistics are also stored in the cache that ``train`` reads
(``$GAN_REGULARIZERS_CACHE``), keyed by the feature space, the images and the centroid's options:
a later ``train`` with the same data, feature space, options and ``fit_max_images`` reuses them
without fitting again.
While it runs, a lock file beside ``--out`` (``.NAME.lock``) refuses a second ``fit`` to the same
file.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``fit`` sub-command's arguments."""
    parser.add_argument("--data", default="mnist5k", help="dataset spec (default mnist5k)")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument(
        "--regularizer",
        metavar="SPEC",
        help="the regularizer to fit, name:key=value,…, e.g. "
        "centroid:feature_space=mnist-features,radius=quantile or a plugin's",
    )
    what.add_argument(
        "--feature-space",
        metavar="SPEC",
        help="the centroid's shorthand: feature space spec name:key=value,…, e.g. "
        "mnist-features or vgg16:layer=features.16 (centroid options such as radius=quantile "
        "go here too)",
    )
    parser.add_argument("--out", required=True, type=Path, help="statistics file to write (.pt)")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace --out if it exists (default: refuse)"
    )
    parser.add_argument("--image-size", type=int, default=None, help="32 or 64 (default: 32)")
    parser.add_argument("--max-images", type=int, default=None, help="use at most N images")
    parser.add_argument("--batch-size", type=int, default=64, help="images per batch")
    parser.add_argument(
        "--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)"
    )
    parser.add_argument("--no-cache", action="store_true", help="do not read or fill the cache")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _check_out(out: Path, overwrite: bool) -> None:
    """Refuse an ``--out`` that cannot be written before any work, never after it."""
    from gan_regularizers.errors import ConfigError

    if out.is_dir():
        raise ConfigError(
            f"--out {out} is a folder; give the statistics file to write, e.g. "
            f"--out {out / 'statistics.pt'}."
        )
    if out.exists() and not overwrite:
        raise ConfigError(
            f"--out {out} already exists; refusing to overwrite it. Choose another path, "
            "or pass --overwrite to replace it."
        )
    folder = out.absolute().parent
    while not folder.exists():  # the first folder that exists; the rest is created
        folder = folder.parent
    if not folder.is_dir():
        raise ConfigError(f"--out {out}: {folder} is a file, not a folder. Choose another --out.")
    if not os.access(folder, os.W_OK):
        raise ConfigError(
            f"--out {out}: cannot write in {folder} (permission denied). Choose a folder you "
            "can write to."
        )


def _checked_options(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """Validate the arguments before any work; ``(regularizer name, its options)``."""
    from gan_regularizers.errors import ConfigError
    from gan_regularizers.plugin_system.specs import parse_spec

    if args.max_images is not None and args.max_images < 2:
        raise ConfigError(
            f"--max-images must be at least 2 (d_ref needs two images), got {args.max_images}."
        )
    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be a positive integer, got {args.batch_size}.")
    _check_out(args.out, args.overwrite)
    if args.regularizer is not None:
        return parse_spec(args.regularizer)
    space, options = parse_spec(args.feature_space)
    return "centroid", {"feature_space": space, **options}


def run(args: argparse.Namespace) -> int:
    """Check the arguments; then fit and save while holding ``--out``'s lock.

    Raises:
        InUseError: another ``fit`` writes the same ``--out`` now.
    """
    name, options = _checked_options(args)
    with _out_lock(args):
        return _fit_and_save(args, name, options)


@contextlib.contextmanager
def _out_lock(args: argparse.Namespace) -> Iterator[None]:
    """One ``fit`` per ``--out`` at a time: a lock file beside it (rank 0 alone takes it)."""
    from gan_regularizers.distributed import is_main_process
    from gan_regularizers.files.lock import hold_lock

    if not is_main_process() or int(os.environ.get("RANK", "0") or 0) != 0:
        yield
        return
    out = args.out
    with hold_lock(
        out.parent / f".{out.name}.lock",
        what=f"--out {out}",
        advice="Wait for that fit to finish, or choose another --out.",
    ):
        _check_out(out, args.overwrite)  # again: the other fit may have written it meanwhile
        yield


def _fit_and_save(args: argparse.Namespace, name: str, options: dict[str, Any]) -> int:
    """Fit on the data (or take the cached fit); save to ``--out``; print the summary."""
    from gan_regularizers.distributed import command_device, is_main_process, process_group
    from gan_regularizers.files.fitted_state import fit_regularizer

    dataset = _dataset(args)
    regularizer = _fittable(args, name, options)
    device = command_device(args.device)
    with process_group(device):
        if callable(getattr(regularizer, "to", None)):  # a module; a plain object stays as it is
            regularizer.to(device)
        fit_regularizer(
            regularizer,
            dataset,
            max_images=args.max_images,
            batch_size=args.batch_size,
            cache=not args.no_cache,
        )
        if not is_main_process():
            return 0  # the statistics are identical on every rank; rank 0 writes them
    args.out.parent.mkdir(parents=True, exist_ok=True)
    print(_save(args, name, regularizer))
    return 0


def _dataset(args: argparse.Namespace) -> Any:
    """``--data`` loaded, its problems named with the flag."""
    from gan_regularizers.data.sources import load_dataset
    from gan_regularizers.errors import ConfigError, GanRegularizersError

    try:
        return load_dataset(args.data, image_size=args.image_size or 32)
    except (FileNotFoundError, ValueError) as error:
        if isinstance(error, GanRegularizersError):
            raise
        raise ConfigError(f"--data {args.data}: {error}") from error


def _spec_flag(args: argparse.Namespace) -> str:
    """The flag and value the user gave, for messages."""
    if args.regularizer is not None:
        return f"--regularizer {args.regularizer}"
    return f"--feature-space {args.feature_space}"


def _fittable(args: argparse.Namespace, name: str, options: dict[str, Any]) -> Any:
    """The regularizer built from its spec; refused when it has nothing to fit."""
    from gan_regularizers.errors import ConfigError, GanRegularizersError
    from gan_regularizers.files.fitted_state import can_be_saved, is_fittable, not_a_module_advice
    from gan_regularizers.plugin_system.registry import accepted_options, collect, get_regularizer

    registration = collect("regularizer").get(name)  # an unknown name: get_regularizer says so
    named = accepted_options(registration.factory)[0] if registration else []
    shown = {"progress": not args.quiet} if "progress" in named else {}
    try:
        regularizer = get_regularizer(name, **shown, **options)
    except (TypeError, ValueError) as error:
        if isinstance(error, GanRegularizersError):
            raise
        raise ConfigError(f"{_spec_flag(args)}: {error}") from error
    if not is_fittable(regularizer):
        raise ConfigError(
            f"{_spec_flag(args)}: the regularizer {name!r} has no fit (no reference statistics), "
            "so there is nothing to fit. fit takes a regularizer with a fit method, e.g. "
            "centroid:feature_space=mnist-features."
        )
    if not can_be_saved(regularizer):  # said before fitting, not after
        raise ConfigError(f"{_spec_flag(args)}: {not_a_module_advice(regularizer, name)}")
    return regularizer


def _save(args: argparse.Namespace, name: str, regularizer: Any) -> str:
    """Write ``--out`` (the regularizer's own format when it has ``save``); the summary line."""
    from gan_regularizers.files.fitted_state import save_fitted_state

    spec = args.regularizer or f"centroid:feature_space={args.feature_space}"
    if callable(getattr(regularizer, "save", None)):
        regularizer.save(args.out)
    else:
        save_fitted_state(regularizer, name, spec, args.out)
    summary = getattr(regularizer, "fit_summary", None)
    details = f": {summary()}" if callable(summary) else ""
    return f"fitted {spec} on {args.data}{details}; saved {args.out}"
