"""The metric objects that the ``register_metrics`` hook registers and ``evaluate`` runs.

* :class:`SpaceMetric`: a metric on the features of one feature space (Fréchet distance, KID,
  precision/recall, density/coverage). ``evaluate`` embeds each image set once per space and
  serves every metric of that space from the same pass.
* :class:`ImageMetric` subclasses: metrics on the images themselves (LPIPS diversity, mode
  coverage by a classifier).

Every metric object is callable like ``evaluate`` with itself as the only metric:
``get_metric("kid", subsets=10)(fake, real, num_samples=1000)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch import nn

from gan_regularizers.metrics.collect import FeatureCollector
from gan_regularizers.metrics.frechet_features import frechet_result, jackknife_frechet_features
from gan_regularizers.metrics.image_sources import FakeImages
from gan_regularizers.metrics.kernel import kernel_distance
from gan_regularizers.metrics.manifold import density_coverage, precision_recall
from gan_regularizers.metrics.result import MetricResult
from gan_regularizers.plugin_system.specs import format_spec


@dataclass
class EvalContext:
    """What ``evaluate`` passes to every metric."""

    seed: int = 0
    batch_size: int = 64
    pairs: int = 5000
    progress: bool = False
    intervals: bool = True


class MetricBase:
    """Common interface: ``name``, ``spec`` (exact, with options), call = ``evaluate([self])``."""

    name: str = ""

    @property
    def spec(self) -> str:
        raise NotImplementedError

    def __call__(self, fake: Any, real: Any, **options: Any) -> Any:
        from gan_regularizers.metrics.evaluation import evaluate

        return evaluate(fake, real, [self], **options)


@dataclass
class SpaceMetric(MetricBase):
    """A metric on features of ``space`` (built with ``space_options``).

    ``kind`` is ``"fd"``, ``"kid"``, ``"precision-recall"`` or ``"density-coverage"``;
    ``options`` are the metric's own (``k``, ``subsets``, …).
    """

    kind: str
    space: str
    name: str
    space_options: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def keeps_features(self) -> bool:
        return self.kind != "fd"

    @property
    def space_key(self) -> str:
        return format_spec(self.space, self.space_options)

    @property
    def spec(self) -> str:
        """The spec that builds this metric again (``fd:vgg16:weights=P``, ``kid:space=…``)."""
        options = {**self.options, **self.space_options}
        if self.kind == "fd":  # fid, fd-dinov2, fd:<space>: the space is in the name
            return format_spec(self.name, options)
        return format_spec(self.name, {"space": self.space, **options})

    def build_space(self) -> nn.Module:
        from gan_regularizers.plugin_system.registry import get_feature_space

        return get_feature_space(self.space, **self.space_options)

    def compute(
        self, real: FeatureCollector, fake: FeatureCollector, context: EvalContext
    ) -> dict[str, MetricResult]:
        """The metric's results from the collected real and fake features."""
        if self.kind == "fd":
            if real.keep_features and fake.keep_features:  # kept for KID/PR/DC anyway
                return {self.name: self._from_features(real, fake, context)}
            reference, folds = real.statistics(), fake.reduce().folds
            return {self.name: frechet_result(self.name, reference, folds, None, context.intervals)}
        options = {"seed": context.seed, **self.options}
        if self.kind == "kid":
            result = kernel_distance(real.features(), fake.features(), **options)
            result.name = self.name
            return {self.name: result}
        compute = precision_recall if self.kind == "precision-recall" else density_coverage
        return compute(real.features(), fake.features(), **options).results()

    def _from_features(
        self, real: FeatureCollector, fake: FeatureCollector, context: EvalContext
    ) -> MetricResult:
        """FD from gathered features: the factor route when n < d, else the moments."""
        real_features, fake_features = real.features(), fake.features()
        if min(len(real_features), len(fake_features)) >= real_features.shape[1]:
            reference, folds = real.statistics(), fake.reduce().folds
            return frechet_result(self.name, reference, folds, None, context.intervals)
        value, low, high, label = jackknife_frechet_features(
            real_features, fake_features, context.intervals
        )
        protocol = {"interval": label, "route": "factors (n < d)"}
        n_real, n_fake = len(real_features), len(fake_features)
        return MetricResult(self.name, value, low, high, n_real, n_fake, protocol)


class ImageMetric(MetricBase):
    """A metric computed from the generated images directly."""

    def compute_images(
        self, fake: FakeImages, real: Any, context: EvalContext
    ) -> dict[str, MetricResult]:
        raise NotImplementedError

    def descriptor(self) -> dict[str, Any]:
        """What identifies the networks behind it (for the reuse key)."""
        return {}
