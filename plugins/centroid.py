"""The built-in ``centroid`` regularizer: Seo & Park's feature-space centroid constraint.

The implementation lives in ``gan_regularizers.centroid``; this plugin only registers it, the
same way a third-party package would.
"""

from __future__ import annotations

from gan_regularizers.plugin_system.hookspecs import Register, hookimpl


def _centroid_loss(*args, **options):  # type: ignore[no-untyped-def]
    from gan_regularizers.centroid.loss import CentroidLoss

    return CentroidLoss(*args, **options)


def _centroid_options() -> list[str]:
    """The centroid's own options, for messages (the rest go to its feature space)."""
    from gan_regularizers.centroid.options import CentroidOptions

    return ["feature_space", *CentroidOptions.names()]


_centroid_loss.default_feature_space = "vgg16"  # type: ignore[attr-defined]  # for run loading
_centroid_loss.accepted_options = _centroid_options  # type: ignore[attr-defined]


@hookimpl
def register_regularizers(register: Register) -> None:
    register("centroid", _centroid_loss)
