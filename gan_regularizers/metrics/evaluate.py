"""Evaluate generated images by metric name: ``fid``, ``fd:<space>``, ``lpips-div``, ``modes``.

Every result carries an interval and every evaluation a protocol card (library versions, feature
space descriptors, N real and fake, seeds, batch size), so numbers can be compared honestly.

* ``fd:<space>`` / ``fid`` (= ``fd:inception``): the Fréchet distance; its 95 % interval is a
  delete-one-fold jackknife over 10 folds of the generated samples (folds by sample index, the
  reference statistics fixed), ``FD ± t₀.₉₇₅,₉ · SE``. Features stream; none are stored.
* ``lpips-div``: mean LPIPS over seeded distinct pairs, 95 % bootstrap interval over pairs.
* ``modes``: classes covered and ``KL(p̂ ‖ uniform)`` by ``mnist-classifier``, 95 % bootstrap
  interval over samples.

Generated images come from fixed latents ``z = randn(n, z_dim)`` seeded by ``seed``, so the sample
set does not depend on the batch size; under ``torch.distributed`` rank ``r`` takes samples
``r, r + W, …`` and the moments are merged across ranks.
"""

from __future__ import annotations

import difflib
import math
import platform
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from typing import Any

import torch
from torch import nn

from gan_regularizers._version import __version__
from gan_regularizers.distributed import rank_and_world_size
from gan_regularizers.errors import MetricError, SameSpaceWarning
from gan_regularizers.features.moments import FeatureMoments, frechet_distance
from gan_regularizers.files.statistics_files import module_descriptor
from gan_regularizers.metrics.frechet import module_device, reference_statistics

FIXED_METRICS = ("fid", "lpips-div", "modes")
JACKKNIFE_FOLDS = 10
T_975_DF9 = 2.2621571627  # Student t quantile 0.975 with 9 degrees of freedom


@dataclass
class MetricResult:
    """A metric's value with its 95 % interval and the details of how it was measured."""

    name: str
    value: float
    low: float | None = None
    high: float | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Evaluation:
    """Every metric's result and the protocol card."""

    metrics: dict[str, MetricResult]
    protocol: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "metrics": {name: asdict(result) for name, result in self.metrics.items()},
            "protocol": self.protocol,
        }


def parse_metric_names(names: str | Sequence[str]) -> list[str]:
    """Split ``"fid,fd:dino,lpips-div"`` and check each name; suggest the closest on a typo."""
    items = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
    items = [n for n in items if n]
    if not items:
        raise MetricError(
            "no metrics given; choose from fid, fd:<feature space>, lpips-div, modes."
        )
    for name in items:
        if name in FIXED_METRICS or (name.startswith("fd:") and len(name) > 3):
            continue
        close = difflib.get_close_matches(name, [*FIXED_METRICS, "fd:"], n=1, cutoff=0.5)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise MetricError(
            f"Unknown metric {name!r}.{hint} Metrics: fid, fd:<feature space> (e.g. "
            "fd:mnist-classifier, fd:dino), lpips-div, modes."
        )
    return list(dict.fromkeys(items))


class GeneratedImages:
    """``n`` images ``G(z_i)`` from latents fixed by ``seed``, in eval mode, batch by batch.

    Iterating yields this rank's share (samples ``rank::world_size``) as image batches; the
    sample set is the same whatever ``batch_size``.
    """

    def __init__(
        self,
        generator: nn.Module,
        n: int,
        z_dim: int,
        seed: int = 0,
        batch_size: int = 64,
    ) -> None:
        if n < 2:
            raise MetricError(f"n must be at least 2 generated images, got {n}.")
        self.generator = generator
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.latents = torch.randn(n, z_dim, generator=torch.Generator().manual_seed(seed))

    def _device(self) -> torch.device:
        return next(self.generator.parameters()).device

    def _generate(self, latents: torch.Tensor) -> torch.Tensor:
        was_training = self.generator.training
        self.generator.eval()
        try:
            with torch.inference_mode():
                return self.generator(latents.to(self._device())).float()
        finally:
            self.generator.train(was_training)

    def indexed_batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """``(global indices, images)`` of this rank's samples."""
        rank, world_size = rank_and_world_size()
        indices = torch.arange(rank, self.n, world_size)
        for chunk in indices.split(self.batch_size):
            yield chunk, self._generate(self.latents[chunk])

    def __iter__(self) -> Iterator[torch.Tensor]:
        for _, images in self.indexed_batches():
            yield images

    def first(self, count: int) -> torch.Tensor:
        """The first ``count`` images (all ranks get the same), on the CPU."""
        count = min(count, self.n)
        return torch.cat(
            [self._generate(chunk).cpu() for chunk in self.latents[:count].split(self.batch_size)]
        )


def frechet_with_interval(
    space: nn.Module,
    real: Any,
    fake: GeneratedImages,
    n_real: int | None,
    batch_size: int,
    cache: bool,
    progress: bool,
) -> MetricResult:
    """Fréchet distance with a delete-one-fold jackknife interval over the generated samples."""
    reference = reference_statistics(space, real, n_real, batch_size, cache, progress=progress)
    folds = [FeatureMoments() for _ in range(JACKKNIFE_FOLDS)]
    device = module_device(space)
    with torch.inference_mode():
        for indices, images in fake.indexed_batches():
            features = space(images.to(device))
            features = features.reshape(features.shape[0], -1)
            for k in range(JACKKNIFE_FOLDS):
                members = (indices % JACKKNIFE_FOLDS) == k
                if members.any():
                    folds[k].update(features[members.to(features.device)])
    for moments in folds:
        moments.all_reduce()

    def distance(excluded: int | None) -> float:
        merged = FeatureMoments()
        for k, moments in enumerate(folds):
            if k != excluded:
                merged.merge(moments)
        return frechet_distance(
            reference.mean, reference.covariance, merged.mean, merged.covariance
        )

    value = distance(None)
    details: dict[str, Any] = {
        "num_real": reference.count,
        "num_fake": fake.n,
        "descriptor": module_descriptor(space),
    }
    if fake.n < 2 * JACKKNIFE_FOLDS:
        return MetricResult("", value, None, None, {**details, "interval": "none (n < 20)"})
    leave_out = torch.tensor([distance(k) for k in range(JACKKNIFE_FOLDS)], dtype=torch.float64)
    k = JACKKNIFE_FOLDS
    standard_error = math.sqrt((k - 1) / k * float(((leave_out - leave_out.mean()) ** 2).sum()))
    half = T_975_DF9 * standard_error
    details["interval"] = "95% delete-one-fold jackknife, 10 folds of the generated samples"
    return MetricResult("", value, max(value - half, 0.0), value + half, details)


def mode_coverage_result(
    fake: GeneratedImages, num_classes: int, seed: int, classifier: nn.Module | None = None
) -> MetricResult:
    """Classes covered and KL to uniform of ``mnist-classifier``'s predictions."""
    from gan_regularizers.distributed import all_gather_objects
    from gan_regularizers.metrics.mode_coverage import class_coverage
    from gan_regularizers.plugin_system.registry import get_feature_space

    classifier = (classifier or get_feature_space("mnist-classifier")).to(fake._device())
    device = module_device(classifier)
    indices, labels = [], []
    for batch_indices, images in fake.indexed_batches():
        indices.append(batch_indices)
        labels.append(classifier.predict(images.to(device)).cpu())  # type: ignore[operator]
    mine = (torch.cat(indices), torch.cat(labels)) if indices else None
    parts = [p for p in all_gather_objects(mine) if p is not None]  # rank order
    order = torch.cat([i for i, _ in parts]).argsort()
    predictions = torch.cat([p for _, p in parts])[order]  # back in sample order
    coverage = class_coverage(predictions, num_classes)
    generator = torch.Generator().manual_seed(seed)
    resampled_kl = []
    for _ in range(200):
        index = torch.randint(predictions.numel(), (predictions.numel(),), generator=generator)
        resampled_kl.append(class_coverage(predictions[index], num_classes).kl_to_uniform)
    low, high = torch.quantile(
        torch.tensor(resampled_kl, dtype=torch.float64),
        torch.tensor([0.025, 0.975], dtype=torch.float64),
    ).tolist()
    return MetricResult(
        "modes",
        float(coverage.covered),
        None,
        None,
        {
            "classes_covered": coverage.covered,
            "num_classes": coverage.num_classes,
            "kl_to_uniform": coverage.kl_to_uniform,
            "kl_low": low,
            "kl_high": high,
            "histogram": coverage.histogram,
            "classifier": "mnist-classifier",
            "interval": "KL: 95% bootstrap over samples, 200 resamples",
        },
    )


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


def evaluate(
    fake: GeneratedImages,
    real: Any,
    metrics: str | Sequence[str],
    *,
    n_real: int | None = None,
    batch_size: int = 64,
    seed: int = 0,
    lpips_pairs: int = 5000,
    inception_weights: str | None = None,
    lpips_weights: str | None = None,
    allow_random_lpips: bool = False,
    regularizer_spaces: Sequence[str] = (),
    cache: bool = True,
    num_classes: int = 10,
    reference_split: str = "the run's training data",
    progress: bool = True,
) -> Evaluation:
    """Compute each named metric for ``fake`` against ``real`` (images in [−1, 1])."""
    from gan_regularizers.plugin_system.registry import get_feature_space

    names = parse_metric_names(metrics)
    results: dict[str, MetricResult] = {}
    descriptors: dict[str, Any] = {}
    for name in names:
        space_name = "inception" if name == "fid" else name[3:] if name.startswith("fd:") else None
        if space_name is not None:
            if space_name in regularizer_spaces:
                warnings.warn(
                    f"{name} is measured in {space_name!r}, the space a regularizer of this run "
                    "optimised: it can improve without better images (Kynkäänniemi et al., 2023). "
                    "Report a Fréchet distance in another space too.",
                    SameSpaceWarning,
                    stacklevel=2,
                )
            options = {"weights": inception_weights} if name == "fid" and inception_weights else {}
            space = get_feature_space(space_name, **options).to(fake._device())
            result = frechet_with_interval(space, real, fake, n_real, batch_size, cache, progress)
            result.name = name
            descriptors[name] = result.details["descriptor"]
        elif name == "lpips-div":
            from gan_regularizers.metrics.lpips_diversity import lpips_diversity

            pool = fake.first(min(fake.n, 2 * lpips_pairs))
            diversity = lpips_diversity(
                pool,
                pairs=lpips_pairs,
                seed=seed,
                batch_size=batch_size,
                backbone_weights=lpips_weights,
                allow_random_backbone=allow_random_lpips,
            )
            result = MetricResult(
                name, diversity.mean, diversity.low, diversity.high, diversity.protocol
            )
        else:
            result = mode_coverage_result(fake, num_classes, seed)
        results[name] = result
    protocol = {
        "versions": library_versions(),
        "feature_spaces": descriptors,
        "num_fake": fake.n,
        "num_real": next(
            (r.details["num_real"] for r in results.values() if "num_real" in r.details), None
        ),
        "reference_split": reference_split,
        "fake_seed": fake.seed,
        "seed": seed,
        "batch_size": batch_size,
        "lpips_pairs": lpips_pairs if "lpips-div" in results else None,
        "generator_mode": "eval (BatchNorm running statistics)",
        "quantisation": "fid: round and clamp to uint8; other spaces: float input",
        "world_size": rank_and_world_size()[1],
    }
    return Evaluation(results, protocol)
