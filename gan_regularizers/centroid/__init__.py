"""The feature-space centroid constraint: options, the loss, fitting and persistence."""

from gan_regularizers.centroid.loss import CentroidLoss
from gan_regularizers.centroid.options import CentroidOptions
from gan_regularizers.errors import NotFittedError

__all__ = ["CentroidLoss", "CentroidOptions", "NotFittedError"]
