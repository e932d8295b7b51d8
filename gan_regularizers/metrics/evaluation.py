"""``metrics.evaluate``: score generated images with any registered metrics, one pass per space.

``evaluate(fake, real, ["fid", "kid", "precision-recall", "lpips-div"], num_samples=5000)``:

* ``fake``: a tensor, a DataLoader/iterable of images, a callable ``sample(n) -> images`` or a
  generator module (``latent_shape=`` for B×nz×1×1 DCGANs); see
  ``gan_regularizers.metrics.image_sources``.
* ``real``: a tensor, a dataset spec (``"mnist5k"``, ``"folder:PATH"``), a Dataset or a loader;
  ``max_images`` takes a seeded uniform random sample of it (seed 0, the same whatever ``seed``).
* ``metrics``: specs (``"fd:vgg16:weights=PATH"``, ``"kid:subsets=10"``) or metric objects
  (``Metric``, a plugin's too).

The engine drives every metric through the members of
``Metric``: feature-space metrics are grouped by
space; each space is built once and gets one pair of shared collectors (moments where a metric
needs them, features where one does), bound to all its metrics; the generated images are
produced once and each batch goes through every space and every image metric's ``update``; the
real images go through each space once (spaces that only need moments use the cached reference
statistics). Then each metric's ``compute``. Every result carries the full protocol (library
versions, the feature space descriptor, sample counts, subsets and seeds), and its interval is a
*sampling* interval of this one generator (see
``SAMPLING_CAVEAT``).
"""

from __future__ import annotations

import platform
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import torch

from gan_regularizers._version import __version__
from gan_regularizers.data.batches import iterate_batches, subset_protocol
from gan_regularizers.distributed import all_gather_objects, rank_and_world_size
from gan_regularizers.errors import (
    InputRangeWarning,
    MetricError,
    PluginContractError,
    SameSpaceWarning,
    UnknownNameError,
)
from gan_regularizers.files.statistics_files import module_descriptor
from gan_regularizers.metrics.base import EvalContext, embed
from gan_regularizers.metrics.collect import DEFAULT_MAX_FEATURES, FeatureCollector
from gan_regularizers.metrics.image_sources import FakeImages, GeneratedImages, as_fake_images
from gan_regularizers.metrics.result import SAMPLING_CAVEAT, MetricResult
from gan_regularizers.metrics.specs import parse_metric_spec, split_specs

__all__ = ["Evaluation", "GeneratedImages", "MetricError", "SameSpaceWarning", "evaluate"]

# what the engine calls: the members of plugin_system.contracts.Metric
CONTRACT = ("name", "spec", "feature_space", "space_options", "needs", "build_space", "bind",
            "prepare", "update", "compute", "reset", "descriptor")  # fmt: skip
FEATURE_NEEDS = frozenset({"moments", "features"})


@dataclass
class Evaluation:
    """Every metric's result and the protocol card shared by all of them."""

    metrics: dict[str, MetricResult]
    protocol: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "metrics": {name: result.to_json() for name, result in self.metrics.items()},
            "protocol": self.protocol,
        }


def check_metric(metric: Any, where: str) -> Any:
    """``metric`` when it has every member of the Metric contract, else a clear error."""
    missing = [member for member in CONTRACT if not hasattr(metric, member)]
    if missing:
        raise PluginContractError(
            f"{where} built a {type(metric).__name__} without {', '.join(missing)}: a metric "
            "needs every member of gan_regularizers.plugin_system.contracts.Metric. Subclass "
            "gan_regularizers.metrics.Metric or FeatureSpaceMetric (docs/metrics.md)."
        )
    return metric


def resolve_metric(spec: Any) -> Any:
    """A metric object from a spec string (through the registry) or as given (checked)."""
    if not isinstance(spec, str):
        return check_metric(spec, "the metric object given")
    from gan_regularizers.plugin_system.registry import create

    name, options = parse_metric_spec(spec)
    try:
        metric = create("metric", name, **options)
    except UnknownNameError as error:
        raise MetricError(str(error)) from error
    except TypeError as error:
        raise MetricError(f"metric spec {spec!r}: {error}") from error
    return check_metric(metric, f"the metric {name!r}")


def resolve_metrics(metrics: str | Sequence[Any]) -> list[Any]:
    """Metric objects for a comma-separated spec list or a sequence of specs/objects."""
    items = split_specs(metrics)
    if not items:
        raise MetricError("no metrics given; e.g. metrics=['fid', 'kid', 'precision-recall'].")
    resolved: dict[str, Any] = {}
    for item in items:
        metric = resolve_metric(item)
        resolved.setdefault(metric.spec, metric)
    return list(resolved.values())


def is_feature_metric(metric: Any) -> bool:
    """Whether ``metric`` reads a feature space (it needs moments or features)."""
    return bool(set(metric.needs) & FEATURE_NEEDS)


def library_versions() -> dict[str, str]:
    """Versions of every library that can change a number."""
    versions = {"gan-regularizers": __version__, "python": platform.python_version()}
    libraries = ("torch", "torchvision", "numpy", "scipy", "lpips", "torch-fidelity", "timm")
    for name in (*libraries, "open_clip_torch"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def _load_real(real: Any, fake: FakeImages) -> Any:
    if not isinstance(real, str):
        return real
    from gan_regularizers.data.sources import load_dataset

    return load_dataset(real, image_size=int(fake.first(2).shape[-1]))


def _warn_same_space(metric: Any, regularizer_spaces: Sequence[str]) -> None:
    if metric.feature_space in regularizer_spaces:
        warnings.warn(
            f"{metric.name} is measured in {metric.feature_space!r}, the space a regularizer of "
            "this run optimised: it can improve without better images (Kynkäänniemi et al., "
            "2023). Report a metric in another space too (fd-dinov2).",
            SameSpaceWarning,
            stacklevel=3,
        )


@dataclass
class _Space:
    """One feature space, its metrics and the shared collectors of its two image sets."""

    module: torch.nn.Module
    metrics: list[Any]
    real: FeatureCollector
    fake: FeatureCollector


def _space_key(metric: Any) -> str:
    from gan_regularizers.plugin_system.specs import format_spec

    if metric.feature_space is None:
        raise MetricError(
            f"{metric.name} has no feature space (feature_space=None takes features); "
            "metrics.evaluate scores images: give it feature_space='NAME'."
        )
    return format_spec(metric.feature_space, dict(metric.space_options))


def _build_spaces(
    metrics: list[Any], device: torch.device, max_features: int | None
) -> dict[str, _Space]:
    """One module and one pair of collectors per space, bound to every metric that reads it."""
    spaces: dict[str, _Space] = {}
    for metric in metrics:
        key = _space_key(metric)
        if key not in spaces:
            real = FeatureCollector(False, max_features, folds=False)
            fake = FeatureCollector(False, max_features)
            spaces[key] = _Space(metric.build_space().to(device), [], real, fake)
        spaces[key].metrics.append(metric)
    for space in spaces.values():
        needs = set().union(*(set(m.needs) for m in space.metrics))
        for collector in (space.real, space.fake):
            collector.keep_features = "features" in needs
            collector.keep_moments = "moments" in needs
        for metric in space.metrics:
            metric.reset()
            metric.bind(space.real, space.fake, space.module)
    return spaces


def _collect(
    spaces: dict[str, _Space],
    image_metrics: list[Any],
    fake: FakeImages,
    real: Any,
    options: dict[str, Any],
) -> float:
    """One pass over the generated images for every space and image metric; one over the real
    images for what needs them. Returns the smallest generated value (all ranks)."""
    from gan_regularizers.metrics.frechet import reference_statistics

    smallest = float("inf")
    for indices, images in fake.indexed_batches():
        if images.numel():
            smallest = min(smallest, float(images.detach().min()))
        for space in spaces.values():
            space.fake.add(embed(space.module, images), indices)
        for metric in image_metrics:
            metric.update(images, real=False, indices=indices)
    cache, max_images = options["cache"], options["max_images"]
    streamed = [s for s in spaces.values() if s.real.keep_features or not cache]
    readers = [m for m in image_metrics if "real_images" in m.needs]
    if streamed or readers:
        for batch in iterate_batches(real, options["batch_size"], max_images):
            for space in streamed:
                space.real.add(embed(space.module, batch.images))
            for metric in readers:
                metric.update(batch.images, real=True)
    for space in spaces.values():
        if space not in streamed:
            space.real.fixed_statistics = reference_statistics(
                space.module, real, max_images, options["batch_size"], cache,
                progress=options["progress"],
            )  # fmt: skip
    return min(float(v) for v in all_gather_objects(smallest))  # type: ignore[arg-type]


def _warn_zero_one(minimum: float) -> None:
    if 0.0 <= minimum < float("inf"):
        warnings.warn(
            f"every generated image value is ≥ 0 (smallest {minimum:.4g}) although metrics take "
            "images in [-1, 1]: they look like [0, 1] pixels (e.g. a sigmoid output or "
            "ToTensor()). Scale them with x * 2 - 1, or every number compares the wrong range.",
            InputRangeWarning,
            stacklevel=3,
        )


def evaluate(
    fake: Any,
    real: Any,
    metrics: str | Sequence[Any],
    *,
    num_samples: int | None = None,
    max_images: int | None = None,
    seed: int = 0,
    latent_shape: int | tuple[int, ...] | None = None,
    batch_size: int = 64,
    pairs: int = 5000,
    device: str | torch.device | None = None,
    regularizer_spaces: Sequence[str] = (),
    cache: bool = True,
    max_features: int | None = DEFAULT_MAX_FEATURES,
    intervals: bool = True,
    reference_split: str | None = None,
    progress: bool = False,
) -> Evaluation:
    """Compute each metric for ``fake`` against ``real`` (images in [−1, 1]); see the module doc.

    Args:
        num_samples: generated images to score (default: all of a tensor/iterable, 5,000 from a
            generator or sampler).
        max_images: real images, a seeded uniform random sample (default: all).
        seed: latents, sampler seeds, KID subsets, pairs and bootstrap seeds.
        latent_shape: the generator's latent shape without the batch (``(100, 1, 1)``).
        pairs: LPIPS pairs.
        device: where the feature networks run (default: the generator's / tensor's device).
        regularizer_spaces: spaces a regularizer of the run optimised (warns when measured in).
        max_features: most feature rows kept per image set for KID/PR/DC (error beyond).
        intervals: ``False`` skips the Fréchet jackknife (one trace instead of eleven).

    Warns with ``InputRangeWarning`` when no generated value is
    negative (``[0, 1]`` images given where ``[-1, 1]`` is expected).
    """
    resolved = resolve_metrics(metrics)
    source = as_fake_images(fake, num_samples, seed, batch_size, latent_shape)
    real = _load_real(real, source)
    context = EvalContext(seed, batch_size, pairs, progress, intervals, reference=real)
    target = torch.device(device) if device is not None else source.device
    feature_metrics = [m for m in resolved if is_feature_metric(m)]
    image_metrics = [m for m in resolved if not is_feature_metric(m)]
    for metric in feature_metrics:
        _warn_same_space(metric, regularizer_spaces)
    spaces = _build_spaces(feature_metrics, target, max_features)
    for metric in image_metrics:
        metric.reset()
        metric.prepare(context)
    options = {"cache": cache, "max_images": max_images, "batch_size": batch_size,
               "progress": progress}  # fmt: skip
    _warn_zero_one(_collect(spaces, image_metrics, source, real, options))
    results: dict[str, MetricResult] = {}
    for metric in resolved:
        extra = {"metric_spec": metric.spec}
        if is_feature_metric(metric):  # every feature metric's result names its space
            extra["feature_space"] = module_descriptor(spaces[_space_key(metric)].module)
        for name, result in metric.compute(context).items():
            result.protocol = {**result.protocol, **extra}
            results[name] = result
    protocol = _protocol(source, real, max_images, context, reference_split, spaces)
    return Evaluation(results, protocol)


def _protocol(
    source: FakeImages,
    real: Any,
    max_images: int | None,
    context: EvalContext,
    reference_split: str | None,
    spaces: dict[str, _Space],
) -> dict[str, Any]:
    n_real = next((s.real.count() for s in spaces.values()), None)
    return {
        "versions": library_versions(),
        "feature_spaces": {key: module_descriptor(s.module) for key, s in spaces.items()},
        "num_fake": source.n,
        "fake": source.describe(),
        "fake_seed": source.seed,
        "num_real": n_real,
        "real_subset": subset_protocol(real, max_images),
        "reference_split": reference_split or getattr(real, "name", type(real).__name__),
        "seed": context.seed,
        "batch_size": context.batch_size,
        "pairs": context.pairs,
        "world_size": rank_and_world_size()[1],
        "intervals": SAMPLING_CAVEAT,
    }
