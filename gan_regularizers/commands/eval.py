"""``gan-regularizers eval RUN``: metrics of a run's generator, added to ``metrics.json`` in
``--out`` (a folder; default: the run folder).

The command parses its arguments and calls the typed ``evaluate_run``; results accumulate in
``metrics.json`` per metric and protocol (``gan_regularizers.metrics.store``). Default
metrics: ``gan_regularizers.metrics.defaults.default_metrics``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class EvaluationSettings:
    """How ``eval`` and ``compare`` evaluate a run, written once.

    Attributes:
        num_samples: generated images.
        max_images: real images, a seeded uniform random sample (``None``: all).
        pairs: LPIPS pairs.
        seed: latent, subset and pair seed.
        batch_size, device, cache, progress: how the work runs (they leave the numbers as
            they are).
    """

    num_samples: int = 5000
    max_images: int | None = None
    pairs: int = 5000
    seed: int = 0
    batch_size: int = 64
    device: str = "auto"
    cache: bool = True
    progress: bool = True

    def protocol(self) -> dict[str, Any]:
        """The settings that change the numbers (a stored result is reused only if they match)."""
        return {
            "num_samples": self.num_samples,
            "max_images": self.max_images,
            "pairs": self.pairs,
            "seed": self.seed,
        }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``eval`` sub-command's arguments."""
    parser.add_argument("run", type=Path, help="a run folder, or a checkpoint file")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for metrics.json (default: the run folder); results accumulate there",
    )
    add_metric_arguments(parser)


def add_metric_arguments(parser: argparse.ArgumentParser) -> None:
    """The metric arguments shared by ``eval``, ``compare`` and ``score``."""
    parser.add_argument(
        "--metrics",
        default=None,
        help="comma-separated metric specs NAME[:key=value,…], e.g. fid,kid:subsets=10,"
        "fd:vgg16:weights=PATH,precision-recall:feature_space=pixels,density-coverage,"
        "fd-dinov2,lpips-div,modes (default: the dataset's declared metrics, else fid,lpips-div)",
    )
    parser.add_argument(
        "--num-samples", type=int, default=5000, help="generated images scored (default 5000)"
    )
    parser.add_argument(
        "--max-images",
        type=int,
        default=None,
        help="real images: a seeded uniform random sample (default: all)",
    )
    parser.add_argument("--pairs", type=int, default=5000, help="LPIPS pairs (default 5000)")
    parser.add_argument("--batch-size", type=int, default=64, help="default 64")
    parser.add_argument("--seed", type=int, default=0, help="latent and pair seed (default 0)")
    parser.add_argument(
        "--device", default="auto", help="auto, cpu, cuda, cuda:1, … (default auto)"
    )
    parser.add_argument("--no-cache", action="store_true", help="recompute reference statistics")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def metric_options(args: argparse.Namespace) -> dict[str, Any]:
    """The typed keyword arguments of ``evaluate_run`` / ``compare_runs`` from the CLI."""
    from gan_regularizers.metrics.specs import split_specs

    settings = EvaluationSettings(
        num_samples=args.num_samples,
        max_images=args.max_images,
        pairs=args.pairs,
        seed=args.seed,
        batch_size=args.batch_size,
        device=args.device,
        cache=not args.no_cache,
        progress=not args.quiet,
    )
    return {"metrics": split_specs(args.metrics) if args.metrics else None, "settings": settings}


def evaluate_run(
    run_path: Path,
    *,
    metrics: list[str] | None = None,
    optional: tuple[str, ...] = (),
    settings: EvaluationSettings | None = None,
    require: bool = True,
) -> dict[str, Any]:
    """Evaluate one run; return the payload with one ``metrics.json`` entry per metric spec.

    Metrics not asked for explicitly (the defaults, or those in ``optional``) whose weights are
    unavailable offline are skipped with the reason; asked-for ones raise. When every metric was
    skipped and ``require``, ``MetricError`` names them and the
    metrics that run offline. Under torchrun every rank calls this inside ``process_group``;
    every rank returns the same payload.
    """
    from gan_regularizers.data.sources import load_dataset
    from gan_regularizers.distributed import command_device
    from gan_regularizers.metrics.defaults import default_metrics
    from gan_regularizers.metrics.evaluation import GeneratedImages
    from gan_regularizers.training.run_loading import load_run

    settings = settings or EvaluationSettings()
    run = load_run(run_path, command_device(settings.device))
    real = load_dataset(run.data, image_size=run.image_size)
    specs = list(metrics or default_metrics(real))
    optional_specs = set(optional) | (set(specs) if metrics is None else set())
    fake = GeneratedImages(
        run.sampler, settings.num_samples, run.z_dim, settings.seed, settings.batch_size
    )
    run_facts = {
        "name": run.name,
        "path": str(run.run_dir),
        "step": run.step,
        "weights": run.weights,
    }
    options = {
        "batch_size": settings.batch_size,
        "cache": settings.cache,
        "progress": settings.progress,
        "regularizer_spaces": run.regularizer_spaces,
        "reference_split": _reference_split(run.data, settings.max_images),
        **settings.protocol(),
    }
    entries, skipped, protocol = evaluate_specs(
        fake, real, specs, optional_specs, options, run_facts
    )
    entries += _requested_class_entries(run, specs, settings, run_facts)
    if require:
        require_results(entries, skipped, real)
    results = {name: r for entry in entries for name, r in entry["results"].items()}
    facts = {"generator_weights": run.weights, "checkpoint_step": run.step}
    protocol = {**protocol, **facts}
    for entry in entries:
        entry["protocol"] = {**entry["protocol"], **facts}
    return {
        "metrics": results,
        "protocol": protocol,
        "run": run_facts,
        "entries": entries,
        "regularizer_spaces": run.regularizer_spaces,
        "skipped": skipped,
    }


def _requested_class_entries(
    run: Any, specs: list[str], settings: EvaluationSettings, run_facts: dict[str, Any]
) -> list[dict[str, Any]]:
    """With ``modes`` asked of a conditional run: the evaluator's accuracy against the requested
    label, per class (``modes-requested``, the mean; its protocol lists every class)."""
    from gan_regularizers.metrics.conditional import conditional_accuracy
    from gan_regularizers.metrics.evaluation import resolve_metrics
    from gan_regularizers.metrics.result import MetricResult
    from gan_regularizers.metrics.store import reuse_key

    modes = [m for m in resolve_metrics(specs) if m.name == "modes"]
    if run.num_classes == 0 or not modes:
        return []
    per_class = max(1, settings.num_samples // run.num_classes)
    accuracy = conditional_accuracy(
        run.generator, modes[0].build(), run.num_classes, per_class, z_dim=run.z_dim,
        seed=settings.seed,
    )  # fmt: skip
    protocol = {"metric_spec": "modes-requested", "classifier": modes[0].classifier,
                "per_class_accuracy": accuracy.per_class, "samples_per_class": per_class,
                "seed": settings.seed, "interval": "none"}  # fmt: skip
    result = MetricResult("modes-requested", accuracy.mean, None, None, None,
                          per_class * run.num_classes, protocol)  # fmt: skip
    fields = {"metric_spec": "modes-requested", "classifier": modes[0].spec,
              "num_samples": per_class * run.num_classes, "seed": settings.seed,
              "step": run.step, "generator_weights": run.weights}  # fmt: skip
    return [{"key": reuse_key(fields), "fields": fields, "protocol": protocol,
             "results": {"modes-requested": result.to_json()}, "run": run_facts}]  # fmt: skip


def require_results(entries: list[Any], skipped: dict[str, str], dataset: object) -> None:
    """Raise a clear ``MetricError`` when every metric was skipped (nothing computed)."""
    if entries:
        return
    from gan_regularizers.errors import MetricError
    from gan_regularizers.metrics.defaults import offline_advice

    reasons = "; ".join(f"{name}: {reason}" for name, reason in skipped.items())
    raise MetricError(
        f"no metric could be computed: {reasons or 'none was given'}. Use "
        f"{offline_advice(dataset)}."
    )


def _reference_split(data: str, max_images: int | None) -> str:
    if max_images is None:
        return f"{data}: all training images"
    return f"{data}: {max_images} training images, a uniform random sample (seed 0)"


def evaluate_specs(
    fake: Any,
    real: Any,
    specs: list[str],
    optional: set[str],
    options: dict[str, Any],
    run: dict[str, Any],
) -> tuple[list, dict, dict]:
    """Required specs together (one pass per space), each optional one on its own."""
    from gan_regularizers.features.weights import WeightsUnavailableError
    from gan_regularizers.metrics.evaluation import evaluate, resolve_metrics

    required = [s for s in specs if s not in optional]
    groups = ([required] if required else []) + [[s] for s in specs if s in optional]
    entries: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}
    protocol: dict[str, Any] = {}
    for group in groups:
        try:
            evaluation = evaluate(fake, real, group, **options)
        except WeightsUnavailableError as error:
            if group[0] not in optional:
                raise
            skipped[group[0]] = str(error).splitlines()[0]
            continue
        protocol = protocol or evaluation.protocol
        entries += _entries(resolve_metrics(group), evaluation, options, run)
    return entries, skipped, protocol


def _entries(
    metrics: list[Any], evaluation: Any, options: dict[str, Any], run: dict[str, Any]
) -> list[dict[str, Any]]:
    from gan_regularizers.metrics.store import reuse_fields, reuse_key

    entries = []
    for metric in metrics:
        fields = reuse_fields(
            metric,
            num_samples=options["num_samples"],
            max_images=options["max_images"],
            pairs=options["pairs"],
            seed=options["seed"],
            run=run,
        )
        results = {
            name: r.to_json()
            for name, r in evaluation.metrics.items()
            if r.protocol.get("metric_spec") == metric.spec
        }
        entries.append(
            {
                "key": reuse_key(fields),
                "fields": fields,
                "results": results,
                "protocol": evaluation.protocol,
                "run": run,
            }
        )
    return entries


def print_results(metrics: dict[str, Any], skipped: dict[str, str]) -> None:
    """One line per result (value, interval or why none), skipped metrics, the caveat."""
    from gan_regularizers.metrics.formatting import format_result, interval_notes
    from gan_regularizers.metrics.result import SAMPLING_CAVEAT

    for name, metric in metrics.items():
        print(f"{name}: {format_result(metric)}")
    for name, reason in skipped.items():
        print(f"{name}: skipped ({reason})")
    for note in interval_notes(metrics.values()):
        print(f"note: {note}")
    print(f"note: {SAMPLING_CAVEAT}")


def run(args: argparse.Namespace) -> int:
    """Evaluate the run and add to ``metrics.json`` beside it (rank 0 alone under torchrun)."""
    from gan_regularizers.distributed import command_device, is_main_process, process_group
    from gan_regularizers.metrics.store import add_entries

    options = metric_options(args)
    with process_group(command_device(args.device)):
        payload = evaluate_run(args.run, **options)
        if not is_main_process():
            return 0
    run_dir = args.run if args.run.is_dir() else args.run.parent
    out = args.out or run_dir
    out.mkdir(parents=True, exist_ok=True)
    path = add_entries(out / "metrics.json", payload["entries"])
    print_results(payload["metrics"], payload["skipped"])
    print(f"wrote {path}")
    return 0
