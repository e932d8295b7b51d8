"""The built-in feature-space metrics: Fréchet distance, KID, precision/recall, density/coverage.

Each is a ``FeatureSpaceMetric`` whose ``compute`` calls its
functional twin (``frechet_distance``,
``kernel_distance``,
``precision_recall``,
``density_coverage``) on the collected statistics. Used
alone (torchmetrics style)::

    fd = FrechetDistance("mnist-evaluator")
    fd.update(real_images, real=True)
    fd.update(fake_images, real=False)
    fd.compute().value

or by name through ``gan_regularizers.metrics.evaluate``, which shares one feature pass per
space between them. Under ``torch.distributed`` call ``update`` on every rank with its own shard
and ``compute`` on every rank: moments are merged and features gathered in global sample order
(sample ``i`` of rank ``r`` is global sample ``i·W + r``), so every rank gets the number one
process would on all the data.
"""

from __future__ import annotations

from typing import Any, ClassVar

from torch import nn

from gan_regularizers.errors import MetricError
from gan_regularizers.metrics.base import EvalContext, FeatureSpaceMetric
from gan_regularizers.metrics.collect import DEFAULT_MAX_FEATURES
from gan_regularizers.metrics.frechet_features import frechet_result, jackknife_frechet_features
from gan_regularizers.metrics.kernel import check_kid_options, kernel_distance
from gan_regularizers.metrics.manifold import check_k, density_coverage, precision_recall
from gan_regularizers.metrics.result import MetricResult, Results
from gan_regularizers.plugin_system.specs import format_spec


class FrechetDistance(FeatureSpaceMetric):
    """Fréchet distance from float64 moments, 95 % jackknife interval over the generated samples.

    ``FD = ‖μ_r − μ_g‖² + tr Σ_r + tr Σ_g − 2 tr √(Σ_rΣ_g)``. Named ``fd:<space>`` (``fd`` when
    fed features); ``alias`` gives the registered short names (``fid``, ``fd-dinov2``).
    """

    needs: ClassVar[frozenset[str]] = frozenset({"moments"})

    def __init__(
        self,
        feature_space: str | nn.Module | None = "inception",
        *,
        alias: str | None = None,
        max_features: int | None = DEFAULT_MAX_FEATURES,
        **space_options: Any,
    ) -> None:
        super().__init__(feature_space, max_features=max_features, **space_options)
        space = self.feature_space
        self.name = alias or (f"fd:{space}" if space is not None else "fd")

    @property
    def spec(self) -> str:
        """``fd:<space>[:options]`` or ``fid[:options]``: the space is in the name."""
        return format_spec(self.name, self.space_options)

    def compute(self, context: EvalContext | None = None) -> Results:
        """The distance, from the moments (or the factor route when features are kept, n < d)."""
        context = context or EvalContext()
        if (
            self.real.keep_features
            and self.fake.keep_features
            and self.real.fixed_statistics is None
        ):
            real, fake = self.real.features(), self.fake.features()
            if min(len(real), len(fake)) < real.shape[1]:
                value, low, high, label = jackknife_frechet_features(real, fake, context.intervals)
                protocol = {"interval": label, "route": "factors (n < d)"}
                result = MetricResult(self.name, value, low, high, len(real), len(fake), protocol)
                return self._finish({self.name: result})
        reference, folds = self.real.statistics(), self.fake.reduce().folds
        result = frechet_result(self.name, reference, folds, None, context.intervals)
        return self._finish({self.name: result})


class KernelDistance(FeatureSpaceMetric):
    """KID: ``kernel_distance`` on the gathered features.

    Args:
        subsets, subset_size, degree: the kernel and the subsets (see ``kernel_distance``).
        seed: subset seed (default: ``evaluate``'s ``seed``, else 0).
    """

    name = "kid"

    def __init__(
        self,
        feature_space: str | nn.Module | None = "inception",
        *,
        subsets: int = 100,
        subset_size: int = 1000,
        degree: int = 3,
        seed: int | None = None,
        max_features: int | None = DEFAULT_MAX_FEATURES,
        **space_options: Any,
    ) -> None:
        check_kid_options(subsets, subset_size, degree)
        options = {"subsets": subsets, "subset_size": subset_size, "degree": degree}
        if seed is not None:
            options["seed"] = _integer("kid", "seed", seed)
        super().__init__(feature_space, max_features=max_features, options=options, **space_options)

    def compute(self, context: EvalContext | None = None) -> Results:
        context = context or EvalContext()
        options = {"seed": context.seed, **self.options}
        result = kernel_distance(self.real.features(), self.fake.features(), **options)
        result.name = self.name
        return self._finish({self.name: result})


class PrecisionRecallMetric(FeatureSpaceMetric):
    """Precision and recall (k-NN radii, ``k = 3``, Kynkäänniemi et al. 2019)."""

    name = "precision-recall"
    default_k = 3

    def __init__(
        self,
        feature_space: str | nn.Module | None = "inception",
        *,
        k: int | None = None,
        seed: int | None = None,
        max_features: int | None = DEFAULT_MAX_FEATURES,
        **space_options: Any,
    ) -> None:
        k = self.default_k if k is None else k
        check_k(k)
        options: dict[str, Any] = {"k": k}
        if seed is not None:
            options["seed"] = _integer(self.name, "seed", seed)
        super().__init__(feature_space, max_features=max_features, options=options, **space_options)

    def compute(self, context: EvalContext | None = None) -> Results:
        context = context or EvalContext()
        options = {"seed": context.seed, **self.options}
        measure = precision_recall if self.name == "precision-recall" else density_coverage
        return self._finish(
            measure(self.real.features(), self.fake.features(), **options).results()
        )


class DensityCoverageMetric(PrecisionRecallMetric):
    """Density and coverage (the real set's k-NN radii, ``k = 5``, Naeem et al. 2020)."""

    name = "density-coverage"
    default_k = 5


def _integer(metric: str, option: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise MetricError(f"{metric}: {option} must be an integer, got {value!r}.")
    return value
