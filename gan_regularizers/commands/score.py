"""``gan-regularizers score FAKE REAL``: metrics of one image set against another, from the shell.

Each side is a folder of images, a run folder (its generator makes ``--num-samples`` images), or
a dataset spec (``mnist5k``, ``folder:PATH``, ``synthetic``), as torch-fidelity's ``fidelity
--input1 --input2``. The metrics, the protocol card and the intervals are those of ``eval``
(``gan_regularizers.metrics.evaluate``); the results accumulate in ``OUT/metrics.json``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gan_regularizers.commands.eval import (
    EvaluationSettings,
    add_metric_arguments,
    metric_options,
    print_results,
    require_results,
)

DEFAULT_IMAGE_SIZE = 64


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``score`` sub-command's arguments."""
    parser.add_argument("fake", help="generated images: a folder of images, a run folder or a "
                        "dataset spec")  # fmt: skip
    parser.add_argument("real", help="real images: a folder of images, a run folder (its "
                        "training data) or a dataset spec (mnist5k, folder:PATH, …)")  # fmt: skip
    parser.add_argument(
        "--out", type=Path, default=Path("score"), help="output folder (default score/)"
    )
    parser.add_argument(
        "--image-size",
        type=int,
        default=None,
        help="size images are read at (default: a run's, else the dataset's, else 64)",
    )
    parser.add_argument(
        "--channels", type=int, default=None, help="1 or 3 for image folders (default 3)"
    )
    add_metric_arguments(parser)


@dataclass
class Side:
    """One side of the comparison: what to pass to ``evaluate`` and how it was read."""

    images: Any
    description: dict[str, Any]
    dataset: Any = None
    image_size: int | None = None


def _is_run(path: Path) -> bool:
    from gan_regularizers.training.checkpoint import CHECKPOINT_NAME

    return (path.is_dir() and (path / CHECKPOINT_NAME).is_file()) or path.suffix == ".pt"


def run_side(text: str, settings: EvaluationSettings, real: bool) -> Side:
    """A run folder: its generator (fake side) or its training data (real side)."""
    from gan_regularizers.data.sources import load_dataset
    from gan_regularizers.distributed import command_device
    from gan_regularizers.metrics.evaluation import GeneratedImages
    from gan_regularizers.training.run_loading import load_run

    run = load_run(Path(text), command_device(settings.device))
    dataset = load_dataset(run.data, image_size=run.image_size)
    facts = {"kind": "run", "path": text, "step": run.step, "weights": run.weights}
    if real:
        return Side(dataset, {**facts, "data": run.data}, dataset, run.image_size)
    images = GeneratedImages(
        run.generator, settings.num_samples, run.z_dim, settings.seed, settings.batch_size
    )
    return Side(images, facts, dataset, run.image_size)


def data_side(text: str, image_size: int, channels: int | None) -> Side:
    """A folder of images or a dataset spec, read at ``image_size``."""
    from gan_regularizers.data.sources import load_dataset

    spec = text
    if Path(text).is_dir():
        spec = f"folder:{text}" + (f":channels={channels}" if channels else "")
    dataset = load_dataset(spec, image_size=image_size)
    return Side(dataset, {"kind": "images", "spec": spec, "images": len(dataset)}, dataset)


def read_sides(
    fake: str, real: str, settings: EvaluationSettings, image_size: int | None, channels: int | None
) -> tuple[Side, Side]:
    """Both sides; runs first, so that folders are read at the run's image size."""
    sides: dict[str, Side] = {}
    for key, text in (("fake", fake), ("real", real)):
        if _is_run(Path(text)):
            sides[key] = run_side(text, settings, real=key == "real")
    size = image_size or next((s.image_size for s in sides.values()), None)
    for key, text in (("fake", fake), ("real", real)):
        if key not in sides:
            chosen = size or (DEFAULT_IMAGE_SIZE if Path(text).is_dir() else None)
            sides[key] = _with_default_size(text, chosen, channels)
            size = size or int(sides[key].images[0][0].shape[-1])
    return sides["fake"], sides["real"]


def _with_default_size(text: str, size: int | None, channels: int | None) -> Side:
    if size is not None:
        return data_side(text, size, channels)
    from gan_regularizers.data.sources import load_dataset

    dataset = load_dataset(text)  # the dataset's own default size
    return Side(dataset, {"kind": "images", "spec": text, "images": len(dataset)}, dataset)


def score(
    fake: str,
    real: str,
    *,
    metrics: list[str] | None = None,
    settings: EvaluationSettings | None = None,
    image_size: int | None = None,
    channels: int | None = None,
) -> dict[str, Any]:
    """Evaluate ``fake`` against ``real`` as ``eval`` does; the payload with ``metrics.json``
    entries (metrics that need unavailable weights are skipped when not asked for)."""
    from gan_regularizers.commands.eval import evaluate_specs
    from gan_regularizers.metrics.defaults import default_metrics

    settings = settings or EvaluationSettings()
    fake_side, real_side = read_sides(fake, real, settings, image_size, channels)
    specs = list(metrics or default_metrics(real_side.dataset))
    optional = set(specs) if metrics is None else set()
    images = fake_side.images
    if fake_side.description["kind"] == "images":
        images = _first_images(images, settings.num_samples)
    options = {
        "batch_size": settings.batch_size,
        "cache": settings.cache,
        "progress": settings.progress,
        "reference_split": f"{real}: {real_side.description}",
        **settings.protocol(),
    }
    facts = {"fake_source": fake_side.description, "real_source": real_side.description}
    entries, skipped, protocol = evaluate_specs(images, real_side.images, specs, optional,
                                                 options, facts)  # fmt: skip
    require_results(entries, skipped, real_side.dataset)
    for entry in entries:
        entry["protocol"] = {**entry["protocol"], **facts}
    results = {name: r for entry in entries for name, r in entry["results"].items()}
    return {"metrics": results, "protocol": {**protocol, **facts}, "entries": entries,
            "skipped": skipped}  # fmt: skip


def _first_images(dataset: Any, count: int) -> Any:
    """At most ``count`` images of a dataset: all when it has fewer, else a seeded sample."""
    from gan_regularizers.metrics.image_sources import IterableFakeImages

    return IterableFakeImages(dataset, min(count, len(dataset)))


def run(args: argparse.Namespace) -> int:
    """Score; print the results and where ``metrics.json`` is (rank 0 under torchrun)."""
    from gan_regularizers.distributed import command_device, is_main_process, process_group
    from gan_regularizers.metrics.store import add_entries

    options = metric_options(args)
    with process_group(command_device(args.device)):
        payload = score(
            args.fake, args.real, image_size=args.image_size, channels=args.channels, **options
        )
        if not is_main_process():
            return 0
    args.out.mkdir(parents=True, exist_ok=True)
    path = add_entries(args.out / "metrics.json", payload["entries"])
    print_results(payload["metrics"], payload["skipped"])
    print(f"wrote {path}")
    return 0
