"""The smallest training run the tests use (4-wide DCGAN on 16 synthetic images), written once."""

from pathlib import Path

TINY = {
    "data": "synthetic:num_images=16",
    "batch_size": 8,
    "architecture": "dcgan:g_width=4,d_width=4",
    "z_dim": 8,
    "grid_size": 4,
    "quiet": True,
    "tensorboard": False,
}

# a one-step run on the embedded digits, for tests that need a real run folder to load
TINY_MNIST = {
    "data": "mnist5k",
    "steps": 1,
    "batch_size": 8,
    "architecture": "dcgan:g_width=4,d_width=4",
    "quiet": True,
    "fit_cache": False,
    "tensorboard": False,
}


def train_tiny_mnist_run(folder: object, **overrides: object) -> None:
    """Train :data:`TINY_MNIST` (with ``overrides``) into the run folder ``folder``."""
    from gan_regularizers import train

    train(None, **{**TINY_MNIST, "run_dir": str(folder), **overrides})


def train_two_tiny_mnist_runs(root: Path) -> list[Path]:
    """Runs ``root/a`` and ``root/b`` of :data:`TINY_MNIST`, seeded apart, for comparisons."""
    for label in ("a", "b"):
        train_tiny_mnist_run(root / label, seed=ord(label))
    return [root / "a", root / "b"]
