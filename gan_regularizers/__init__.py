"""gan-regularizers: GAN losses and generator regularizers on a pluggy plugin system.

Importing the package is cheap: torch, torchvision and the optional backbones are imported only
when something that needs them is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gan_regularizers._version import __version__
from gan_regularizers.errors import (
    DuplicateNameError,
    GanRegularizersError,
    MissingExtraError,
    PluginLoadWarning,
    UnknownNameError,
)
from gan_regularizers.plugin_system.hookspecs import hookimpl
from gan_regularizers.plugin_system.registry import (
    PluginInfo,
    get_augmentation,
    get_dataset,
    get_feature_space,
    get_loss,
    get_metric,
    get_regularizer,
    list_augmentations,
    list_datasets,
    list_feature_spaces,
    list_losses,
    list_metrics,
    list_plugins,
    list_regularizers,
)

if TYPE_CHECKING:
    from gan_regularizers.centroid.loss import CentroidLoss, NotFittedError
    from gan_regularizers.features.weights import (
        RandomWeightsWarning,
        WeightsFileError,
        WeightsUnavailableError,
    )
    from gan_regularizers.files.statistics_files import StatisticsFileError
    from gan_regularizers.training.loop import train

__all__ = [
    "CentroidLoss",
    "DuplicateNameError",
    "GanRegularizersError",
    "MissingExtraError",
    "NotFittedError",
    "PluginInfo",
    "PluginLoadWarning",
    "RandomWeightsWarning",
    "StatisticsFileError",
    "UnknownNameError",
    "WeightsFileError",
    "WeightsUnavailableError",
    "__version__",
    "get_augmentation",
    "get_dataset",
    "get_feature_space",
    "get_loss",
    "get_metric",
    "get_regularizer",
    "hookimpl",
    "list_augmentations",
    "list_datasets",
    "list_feature_spaces",
    "list_losses",
    "list_metrics",
    "list_plugins",
    "list_regularizers",
    "metrics",
    "train",
]

_LAZY = {
    "CentroidLoss": "gan_regularizers.centroid.loss",
    "NotFittedError": "gan_regularizers.centroid.loss",
    "StatisticsFileError": "gan_regularizers.files.statistics_files",
    "RandomWeightsWarning": "gan_regularizers.features.weights",
    "WeightsFileError": "gan_regularizers.features.weights",
    "WeightsUnavailableError": "gan_regularizers.features.weights",
    "train": "gan_regularizers.training.loop",
}


def __getattr__(name: str) -> Any:
    """Import heavy public objects (they need torch) on first access."""
    import importlib

    if name == "metrics":
        return importlib.import_module("gan_regularizers.metrics")
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'gan_regularizers' has no attribute {name!r}")
