"""``metrics.evaluate``: score generated images with any registered metrics, one pass per space.

``evaluate(fake, real, ["fid", "kid", "precision-recall", "lpips-div"], num_samples=5000)``:

* ``fake``: a tensor, a DataLoader/iterable of images, a callable ``sample(n) -> images`` or a
  generator module (``latent_shape=`` for B×nz×1×1 DCGANs); see
  :mod:`gan_regularizers.metrics.image_sources`.
* ``real``: a tensor, a dataset spec (``"mnist5k"``, ``"folder:PATH"``), a Dataset or a loader;
  ``max_images`` takes a seeded uniform random sample of it (seed 0, the same whatever ``seed``).
* ``metrics``: specs (``"fd:vgg16:weights=PATH"``, ``"kid:subsets=10"``) or metric objects.

Every feature space is built once; the generated images are produced once and each batch goes
through every space; the real images go through each space once (Fréchet-only spaces use the
cached reference statistics). Every result carries the full protocol (library versions, the
feature space descriptor, sample counts, subsets and seeds), and its interval is a *sampling*
interval of this one generator (see :data:`~gan_regularizers.metrics.result.SAMPLING_CAVEAT`).
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
from gan_regularizers.distributed import rank_and_world_size
from gan_regularizers.errors import InputTypeError, MetricError, SameSpaceWarning, UnknownNameError
from gan_regularizers.files.statistics_files import module_descriptor
from gan_regularizers.metrics.collect import DEFAULT_MAX_FEATURES, FeatureCollector
from gan_regularizers.metrics.definitions import EvalContext, ImageMetric, MetricBase, SpaceMetric
from gan_regularizers.metrics.image_sources import FakeImages, GeneratedImages, as_fake_images
from gan_regularizers.metrics.result import SAMPLING_CAVEAT, MetricResult
from gan_regularizers.metrics.specs import parse_metric_spec, split_specs
from gan_regularizers.metrics.stateful import module_device

__all__ = ["Evaluation", "GeneratedImages", "MetricError", "SameSpaceWarning", "evaluate"]


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


def resolve_metric(spec: str | MetricBase) -> MetricBase:
    """A metric object from a spec string (through the registry) or as given."""
    if isinstance(spec, MetricBase):
        return spec
    from gan_regularizers.plugin_system.registry import create

    name, options = parse_metric_spec(spec)
    try:
        return create("metric", name, **options)
    except UnknownNameError as error:
        raise MetricError(str(error)) from error
    except TypeError as error:
        raise MetricError(f"metric spec {spec!r}: {error}") from error


def resolve_metrics(metrics: str | Sequence[str | MetricBase]) -> list[MetricBase]:
    """Metric objects for a comma-separated spec list or a sequence of specs/objects."""
    items = split_specs(metrics)
    if not items:
        raise MetricError("no metrics given; e.g. metrics=['fid', 'kid', 'precision-recall'].")
    resolved: dict[str, MetricBase] = {}
    for item in items:
        metric = resolve_metric(item)
        resolved.setdefault(metric.spec, metric)
    return list(resolved.values())


def parse_metric_names(names: str | Sequence[str]) -> list[str]:
    """Check a spec list against the registry; return the specs (duplicates removed)."""
    specs = split_specs(names)
    resolve_metrics(specs)
    return list(dict.fromkeys(specs))


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


_LEGACY = {
    "n_real": "max_images",
    "lpips_pairs": "pairs",
    "n": "num_samples",
}


def _legacy_options(metrics: list[MetricBase], options: dict[str, Any]) -> dict[str, Any]:
    """Map old keyword spellings to the new ones, with a DeprecationWarning."""
    renamed: dict[str, Any] = {}
    for old, value in options.items():
        if old in _LEGACY:
            renamed[_LEGACY[old]] = value
        elif old in ("inception_weights", "lpips_weights", "allow_random_lpips"):
            _apply_legacy_weights(metrics, old, value)
        else:
            raise InputTypeError(f"evaluate() got an unexpected keyword argument {old!r}")
        new = _LEGACY.get(old, "a metric option in the spec (e.g. 'fid:weights=PATH')")
        warnings.warn(
            f"evaluate({old}=) is deprecated; use {new}.", DeprecationWarning, stacklevel=3
        )
    return renamed


def _apply_legacy_weights(metrics: list[MetricBase], old: str, value: Any) -> None:
    for metric in metrics:
        if old == "inception_weights" and isinstance(metric, SpaceMetric) and value:
            if metric.space == "inception":
                metric.space_options.setdefault("weights", value)
        elif old == "lpips_weights" and metric.name == "lpips-div" and value:
            metric.weights = value  # type: ignore[attr-defined]
        elif old == "allow_random_lpips" and metric.name == "lpips-div" and value:
            metric.pretrained = False  # type: ignore[attr-defined]


def _load_real(real: Any, fake: FakeImages) -> Any:
    if not isinstance(real, str):
        return real
    from gan_regularizers.data.sources import load_dataset

    return load_dataset(real, image_size=int(fake.first(2).shape[-1]))


def _warn_same_space(metric: SpaceMetric, regularizer_spaces: Sequence[str]) -> None:
    if metric.space in regularizer_spaces:
        warnings.warn(
            f"{metric.name} is measured in {metric.space!r}, the space a regularizer of this run "
            "optimised: it can improve without better images (Kynkäänniemi et al., 2023). "
            "Report a metric in another space too (fd-dinov2).",
            SameSpaceWarning,
            stacklevel=3,
        )


@dataclass
class _Space:
    """One feature space, its metrics and the collectors of its two image sets."""

    module: torch.nn.Module
    metrics: list[SpaceMetric]
    real: FeatureCollector
    fake: FeatureCollector


def _build_spaces(
    metrics: list[SpaceMetric], device: torch.device, max_features: int | None
) -> dict[str, _Space]:
    spaces: dict[str, _Space] = {}
    for metric in metrics:
        if metric.space_key not in spaces:
            module = metric.build_space().to(device)
            spaces[metric.space_key] = _Space(
                module,
                [],
                FeatureCollector(False, max_features, folds=False),
                FeatureCollector(False, max_features),
            )
        space = spaces[metric.space_key]
        space.metrics.append(metric)
        if metric.keeps_features:
            space.real.keep_features = space.fake.keep_features = True
    for space in spaces.values():  # moments only where a Fréchet distance reads them
        needed = any(metric.kind == "fd" for metric in space.metrics)
        space.real.keep_moments = space.fake.keep_moments = needed
    return spaces


def _embed(space: _Space, images: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        features = space.module(images.to(module_device(space.module)))
    return features.reshape(features.shape[0], -1)


def _collect(
    spaces: dict[str, _Space],
    fake: FakeImages,
    real: Any,
    max_images: int | None,
    batch_size: int,
    cache: bool,
    progress: bool,
) -> None:
    """One pass over the fake images for all spaces; one over the real images per need."""
    from gan_regularizers.metrics.frechet import reference_statistics

    for indices, images in fake.indexed_batches():
        for space in spaces.values():
            space.fake.add(_embed(space, images), indices)
    streamed = [s for s in spaces.values() if s.real.keep_features or not cache]
    if streamed:
        for batch in iterate_batches(real, batch_size, max_images):
            for space in streamed:
                space.real.add(_embed(space, batch.images))
    for space in spaces.values():
        if space not in streamed:
            statistics = reference_statistics(
                space.module, real, max_images, batch_size, cache, progress=progress
            )
            space.real.fixed_statistics = statistics


def evaluate(
    fake: Any,
    real: Any,
    metrics: str | Sequence[str | MetricBase],
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
    **deprecated: Any,
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
    """
    resolved = resolve_metrics(metrics)
    renamed = _legacy_options(resolved, deprecated)
    num_samples = renamed.get("num_samples", num_samples)
    max_images = renamed.get("max_images", max_images)
    pairs = renamed.get("pairs", pairs)
    source = as_fake_images(fake, num_samples, seed, batch_size, latent_shape)
    real = _load_real(real, source)
    context = EvalContext(seed, batch_size, pairs, progress, intervals)
    target = torch.device(device) if device is not None else source.device
    space_metrics = [m for m in resolved if isinstance(m, SpaceMetric)]
    for metric in space_metrics:
        _warn_same_space(metric, regularizer_spaces)
    spaces = _build_spaces(space_metrics, target, max_features)
    _collect(spaces, source, real, max_images, batch_size, cache, progress)
    protocol = _protocol(source, real, max_images, context, reference_split, spaces)
    results: dict[str, MetricResult] = {}
    for metric in resolved:
        if isinstance(metric, SpaceMetric):
            space = spaces[metric.space_key]
            computed = metric.compute(space.real, space.fake, context)
            extra = {"feature_space": module_descriptor(space.module)}
        elif isinstance(metric, ImageMetric):
            computed = metric.compute_images(source, real, context)
            extra = {}
        else:
            raise MetricError(f"{metric!r} is neither a feature-space nor an image metric.")
        for name, result in computed.items():
            result.protocol = {**result.protocol, **extra, "metric_spec": metric.spec}
            results[name] = result
    return Evaluation(results, protocol)


def _protocol(
    source: FakeImages,
    real: Any,
    max_images: int | None,
    context: EvalContext,
    reference_split: str | None,
    spaces: dict[str, _Space],
) -> dict[str, Any]:
    n_real = next((s.real.statistics().count for s in spaces.values()), None)
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
