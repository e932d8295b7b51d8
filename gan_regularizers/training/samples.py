"""Sample grids: the generator's images for a fixed set of latents, saved as one PNG."""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn

SAMPLES_DIR = "samples"


@torch.no_grad()
def generate(
    generator: nn.Module,
    latents: torch.Tensor,
    labels: torch.Tensor | None = None,
    batch_size: int = 256,
) -> torch.Tensor:
    """``G(z)`` (``G(z, labels)`` when conditional) in eval mode (BatchNorm running statistics),
    on the CPU, float32, in ``[-1, 1]``.

    The generator's train/eval mode is restored afterwards; no random state is consumed.
    """
    was_training = generator.training
    generator.eval()
    device = next(generator.parameters()).device
    chunks = latents.split(batch_size)
    label_chunks = [None] * len(chunks) if labels is None else labels.split(batch_size)
    try:
        images = [
            (generator(z.to(device)) if y is None else generator(z.to(device), y.to(device)))
            .float()
            .cpu()
            for z, y in zip(chunks, label_chunks, strict=True)
        ]
    finally:
        generator.train(was_training)
    return torch.cat(images)


def save_grid(images: torch.Tensor, path: str | Path, rows: int | None = None) -> Path | None:
    """Save ``B×C×H×W`` images in ``[-1, 1]`` as a grid PNG (``x ↦ (x + 1) / 2``): square-ish,
    or ``rows`` rows (one per class in a conditional run).

    Data that are not images (channels other than 1 or 3, e.g. 2-D points as ``2×1×1``) have
    no grid: nothing is written and ``None`` is returned.
    """
    from torchvision.utils import save_image

    if images.shape[1] not in (1, 3):
        return None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = images.shape[0]
    columns = math.ceil(count / rows) if rows else math.ceil(math.sqrt(count))
    save_image(((images + 1) / 2).clamp(0, 1), path, nrow=columns, padding=2)
    return path


def grid_path(run_dir: Path, step: int) -> Path:
    """``run_dir/samples/step_000500.png``."""
    return run_dir / SAMPLES_DIR / f"step_{step:06d}.png"


def list_grids(run_dir: Path) -> list[Path]:
    """Every sample grid of a run, in step order."""
    return sorted((run_dir / SAMPLES_DIR).glob("step_*.png"))
