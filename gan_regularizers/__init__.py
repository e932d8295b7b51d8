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
from gan_regularizers.hookspecs import hookimpl
from gan_regularizers.registry import (
    PluginInfo,
    get_feature_space,
    get_loss,
    get_regularizer,
    list_feature_spaces,
    list_losses,
    list_plugins,
    list_regularizers,
)

if TYPE_CHECKING:
    from gan_regularizers.plugins.centroid import CentroidLoss, NotFittedError
    from gan_regularizers.statistics_files import StatisticsFileError
    from gan_regularizers.training.loop import train
    from gan_regularizers.weights import (
        RandomWeightsWarning,
        WeightsFileError,
        WeightsUnavailableError,
    )

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
    "get_feature_space",
    "get_loss",
    "get_regularizer",
    "hookimpl",
    "list_feature_spaces",
    "list_losses",
    "list_plugins",
    "list_regularizers",
    "train",
]

_LAZY = {
    "CentroidLoss": "gan_regularizers.plugins.centroid",
    "NotFittedError": "gan_regularizers.plugins.centroid",
    "StatisticsFileError": "gan_regularizers.statistics_files",
    "RandomWeightsWarning": "gan_regularizers.weights",
    "WeightsFileError": "gan_regularizers.weights",
    "WeightsUnavailableError": "gan_regularizers.weights",
    "train": "gan_regularizers.training.loop",
}


def __getattr__(name: str) -> Any:
    """Import heavy public objects (they need torch) on first access."""
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'gan_regularizers' has no attribute {name!r}")
