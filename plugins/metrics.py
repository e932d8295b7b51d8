"""The built-in metrics, registered through the ``register_metrics`` hook like any plugin's.

Names and their options (``--metrics NAME:key=value``; options a metric does not know go to its
feature space, e.g. ``weights=PATH``):

* ``fid``: Fréchet distance in ``inception`` (FID), the legacy number;
* ``fd:<space>``: Fréchet distance in any registered feature space (``fd:vgg16:weights=PATH``);
* ``fd-dinov2``: Fréchet distance in ``dinov2`` (Stein et al. 2023), the neutral default of
  ``compare`` where its weights are available;
* ``kid`` (``space=inception, subsets=100, subset_size=1000, degree=3``);
* ``precision-recall`` (``space=inception, k=3``) and ``density-coverage`` (``space=inception,
  k=5``);
* ``lpips-div`` (``pairs, weights, pretrained``);
* ``modes`` (``classifier=mnist-evaluator``): the fraction accepted as digits, classes covered by
  accepted samples and their KL to uniform.

Importing this module is cheap: the metric code is imported when a factory is called.
"""

from __future__ import annotations

from typing import Any

from gan_regularizers.plugin_system.hookspecs import Register, hookimpl

MODES_DEFAULT_CLASSIFIER = "mnist-evaluator"  # rejects non-digits (counted as -1)


def _space_metric(
    kind: str, space: str, name: str, options: dict[str, Any], space_options: dict[str, Any]
) -> Any:
    from gan_regularizers.metrics.definitions import SpaceMetric

    return SpaceMetric(kind, space, name, dict(space_options), dict(options))


def fid(**space_options: Any) -> Any:
    """FID: the Fréchet distance in Inception-v3 pool features."""
    return _space_metric("fd", "inception", "fid", {}, space_options)


def fd(space: str, **space_options: Any) -> Any:
    """The Fréchet distance in the feature space ``space`` (its options after it)."""
    return _space_metric("fd", space, f"fd:{space}", {}, space_options)


def fd_dinov2(**space_options: Any) -> Any:
    """FD-DINOv2: the Fréchet distance in DINOv2 ViT-L/14 CLS features."""
    return _space_metric("fd", "dinov2", "fd-dinov2", {}, space_options)


def kid(
    space: str = "inception",
    subsets: int = 100,
    subset_size: int = 1000,
    degree: int = 3,
    **space_options: Any,
) -> Any:
    """KID: unbiased polynomial MMD², mean over subsets."""
    options = {"subsets": subsets, "subset_size": subset_size, "degree": degree}
    return _space_metric("kid", space, "kid", options, space_options)


def precision_recall(space: str = "inception", k: int = 3, **space_options: Any) -> Any:
    """Precision and recall with k-NN radii (Kynkäänniemi et al. 2019)."""
    return _space_metric("precision-recall", space, "precision-recall", {"k": k}, space_options)


def density_coverage(space: str = "inception", k: int = 5, **space_options: Any) -> Any:
    """Density and coverage (Naeem et al. 2020)."""
    return _space_metric("density-coverage", space, "density-coverage", {"k": k}, space_options)


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
