"""The built-in metrics, registered through the ``register_metrics`` hook like any plugin's.

Each factory builds one of the metric classes of ``gan_regularizers.metrics`` (the one object
model); options a metric does not know go to its feature space (``weights=PATH``). A leading
part without ``=`` is the first parameter, the feature space: ``kid:pixels`` =
``kid:feature_space=pixels``.

* ``fid``: Fréchet distance in ``inception`` (FID), the legacy number;
* ``fd:<space>``: Fréchet distance in any registered feature space (``fd:vgg16:weights=PATH``);
* ``fd-dinov2``: Fréchet distance in ``dinov2`` (Stein et al. 2023), the neutral default of
  ``compare`` where its weights are available;
* ``kid`` (``feature_space=inception, subsets=100, subset_size=1000, degree=3``);
* ``precision-recall`` (``feature_space=inception, k=3``) and ``density-coverage``
  (``feature_space=inception, k=5``);
* ``lpips-div`` (``pairs, weights, pretrained``);
* ``modes`` (``classifier=mnist-evaluator``): the fraction accepted as digits, classes covered by
  accepted samples and their KL to uniform.

Importing this module is cheap: the metric code is imported when a factory is called.
"""

from __future__ import annotations

from typing import Any

from gan_regularizers.plugin_system.hookspecs import Register, hookimpl

MODES_DEFAULT_CLASSIFIER = "mnist-evaluator"  # rejects non-digits (counted as -1)
DEFAULT_SPACE = "inception"


def fid(**space_options: Any) -> Any:
    """FID: the Fréchet distance in Inception-v3 pool features."""
    from gan_regularizers.metrics.feature_metrics import FrechetDistance

    return FrechetDistance(DEFAULT_SPACE, alias="fid", **space_options)


def fd(feature_space: str, **space_options: Any) -> Any:
    """The Fréchet distance in ``feature_space`` (its options after it)."""
    from gan_regularizers.metrics.feature_metrics import FrechetDistance

    return FrechetDistance(feature_space, **space_options)


def fd_dinov2(**space_options: Any) -> Any:
    """FD-DINOv2: the Fréchet distance in DINOv2 ViT-L/14 CLS features."""
    from gan_regularizers.metrics.feature_metrics import FrechetDistance

    return FrechetDistance("dinov2", alias="fd-dinov2", **space_options)


def kid(feature_space: str = DEFAULT_SPACE, **options: Any) -> Any:
    """KID: unbiased polynomial MMD², mean over subsets."""
    from gan_regularizers.metrics.feature_metrics import KernelDistance

    return KernelDistance(feature_space, **options)


def precision_recall(feature_space: str = DEFAULT_SPACE, **options: Any) -> Any:
    """Precision and recall with k-NN radii (Kynkäänniemi et al. 2019)."""
    from gan_regularizers.metrics.feature_metrics import PrecisionRecallMetric

    return PrecisionRecallMetric(feature_space, **options)


def density_coverage(feature_space: str = DEFAULT_SPACE, **options: Any) -> Any:
    """Density and coverage (Naeem et al. 2020)."""
    from gan_regularizers.metrics.feature_metrics import DensityCoverageMetric

    return DensityCoverageMetric(feature_space, **options)


def lpips_div(pairs: int | None = None, weights: str | None = None, pretrained: bool = True) -> Any:
    """LPIPS diversity of the generated images."""
    from gan_regularizers.metrics.image_metrics import LpipsDiversityMetric

    return LpipsDiversityMetric(pairs, weights, pretrained)


def modes(classifier: str = MODES_DEFAULT_CLASSIFIER, **classifier_options: Any) -> Any:
    """Classes covered by ``classifier``'s predictions, and their KL to uniform."""
    from gan_regularizers.metrics.image_metrics import ModeCoverageMetric

    return ModeCoverageMetric(classifier, **classifier_options)


@hookimpl
def register_metrics(register: Register) -> None:
    register("fid", fid)
    register("fd", fd)
    register("fd-dinov2", fd_dinov2)
    register("kid", kid)
    register("precision-recall", precision_recall)
    register("density-coverage", density_coverage)
    register("lpips-div", lpips_div)
    register("modes", modes)
