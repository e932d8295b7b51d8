"""A study small enough for the tests: 16 synthetic images, 4-wide DCGAN, a few steps."""

from __future__ import annotations

from pathlib import Path

TINY_STUDY = """
name = "tiny-test"
seeds = {seeds}
lengths = {lengths}

[base]
data = "synthetic:num_images=16"
batch_size = 8
g_width = 4
d_width = 4
z_dim = 8
grid_size = 4
fit_cache = false
plots = false

[setups.bce]
loss = "bce"

[setups.centroid]
loss = "bce"
regularizers = ["centroid:weight=0.5,feature_space=mnist-features,normalize=d_ref"]
{extra_setups}
[scoring]
metrics = ["fd:mnist-evaluator", "precision-recall:space=pixels"]
num_samples = 16
max_images = 16

[[comparisons]]
setup = "centroid"
baseline = "bce"

[controls]
random_feature_space = {controls}
"""


def write_study(
    folder: Path,
    lengths: str = "[2]",
    controls: bool = True,
    extra_setups: str = "",
    seeds: str = "[0, 1]",
) -> Path:
    """Write the tiny study file into ``folder``; return its path."""
    text = TINY_STUDY.format(
        lengths=lengths, controls=str(controls).lower(), extra_setups=extra_setups, seeds=seeds
    )
    path = folder / "study.toml"
    path.write_text(text)
    return path
