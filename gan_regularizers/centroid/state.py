"""The names of a fitted ``CentroidLoss``'s buffers.

One list, read by the loss (to register them) and by the persistence codec (to write and fill
them), so that neither module imports the other.
"""

from __future__ import annotations

# statistics (center d or k×d, d_ref scalar or k), their counts and class labels, the projection,
# the fitted image size (empty when unknown), the fitted space's record and the training step
STATE_BUFFERS = (
    "center",
    "d_ref",
    "center_counts",
    "classes",
    "projection_mean",
    "projection_components",
    "image_size",
    "fitted_space",
    "steps",
)
