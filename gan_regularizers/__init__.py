"""gan-regularizers: GAN losses and generator regularizers on a pluggy plugin system.

Importing the package is cheap: torch, torchvision and the optional backbones are imported only
when something that needs them is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gan_regularizers._version import __version__
from gan_regularizers.errors import GanRegularizersError, GanRegularizersWarning
from gan_regularizers.plugin_system.hookspecs import hookimpl
from gan_regularizers.plugin_system.registry import (
    PluginInfo,
    get_architecture,
    get_augmentation,
    get_dataset,
    get_feature_space,
    get_loss,
    get_metric,
    get_regularizer,
    list_architectures,
    list_augmentations,
    list_datasets,
    list_feature_spaces,
    list_losses,
    list_metrics,
    list_plugins,
    list_regularizers,
)

if TYPE_CHECKING:
    from gan_regularizers.centroid.loss import CentroidLoss
    from gan_regularizers.export import export_generator, load_generator, load_run
    from gan_regularizers.training.loop import train

__all__ = [
    "CentroidLoss",
    "GanRegularizersError",
    "GanRegularizersWarning",
    "PluginInfo",
    "__version__",
    "export_generator",
    "get_architecture",
    "get_augmentation",
    "get_dataset",
    "get_feature_space",
    "get_loss",
    "get_metric",
    "get_regularizer",
    "hookimpl",
    "list_architectures",
    "list_augmentations",
    "list_datasets",
    "list_feature_spaces",
    "list_losses",
    "list_metrics",
    "list_plugins",
    "list_regularizers",
    "load_generator",
    "load_run",
    "metrics",
    "train",
]

_LAZY = {
    "CentroidLoss": "gan_regularizers.centroid.loss",
    "train": "gan_regularizers.training.loop",
    "load_run": "gan_regularizers.export",
    "export_generator": "gan_regularizers.export",
    "load_generator": "gan_regularizers.export",
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
