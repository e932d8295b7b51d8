"""Sample grids: the generator's images for a fixed set of latents, saved as one PNG."""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn

SAMPLES_DIR = "samples"


@torch.no_grad()
def generate(generator: nn.Module, latents: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """``G(z)`` in eval mode (BatchNorm running statistics), on the CPU, float32, in ``[-1, 1]``.

    The generator's train/eval mode is restored afterwards; no random state is consumed.
    """
    was_training = generator.training
    generator.eval()
    device = next(generator.parameters()).device
    try:
        images = [generator(chunk.to(device)).float().cpu() for chunk in latents.split(batch_size)]
    finally:
        generator.train(was_training)
    return torch.cat(images)


def save_grid(images: torch.Tensor, path: str | Path) -> Path:
    """Save ``B×C×H×W`` images in ``[-1, 1]`` as a square-ish grid PNG (``x ↦ (x + 1) / 2``)."""
    from torchvision.utils import save_image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = math.ceil(math.sqrt(images.shape[0]))
    save_image(((images + 1) / 2).clamp(0, 1), path, nrow=columns, padding=2)
    return path


def grid_path(run_dir: Path, step: int) -> Path:
    """``run_dir/samples/step_000500.png``."""
    return run_dir / SAMPLES_DIR / f"step_{step:06d}.png"


def list_grids(run_dir: Path) -> list[Path]:
    """Every sample grid of a run, in step order."""
    return sorted((run_dir / SAMPLES_DIR).glob("step_*.png"))
