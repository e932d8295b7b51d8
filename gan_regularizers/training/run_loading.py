"""Load what evaluation needs from a training run: its generator, config and real data."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn


@dataclass
class LoadedRun:
    """A trained generator with the config, data spec and regularizer spaces of its run."""

    name: str
    run_dir: Path
    generator: nn.Module
    z_dim: int
    data: str
    image_size: int
    step: int
    regularizer_spaces: list[str]


def regularizer_spaces(specs: list[str]) -> list[str]:
    """Feature-space names the run's regularizers optimised (``centroid`` defaults to vgg16)."""
    from gan_regularizers.plugin_system.specs import parse_spec

    spaces = []
    for spec in specs:
        name, options = parse_spec(spec)
        if "feature_space" in options:
            spaces.append(str(options["feature_space"]))
        elif name == "centroid":
            spaces.append("vgg16")
    return spaces


def load_run(path: str | Path, device: str | torch.device = "cpu") -> LoadedRun:
    """A run folder (or its checkpoint file) → the generator in eval mode and the run's facts."""
    from gan_regularizers.data.sources import dataset_shape, load_dataset
    from gan_regularizers.models.dcgan import DCGANGenerator
    from gan_regularizers.training.checkpoint import load_checkpoint
    from gan_regularizers.training.config import load_config

    source = Path(path)
    state = load_checkpoint(source)
    config = load_config(state["config"])
    run_dir = source if source.is_dir() else source.parent
    channels = _channels(state["generator"])
    if channels is None:
        channels, _ = dataset_shape(load_dataset(config.data, image_size=config.image_size))
    generator = DCGANGenerator(config.image_size, channels, config.z_dim, config.g_width)
    generator.load_state_dict(state["generator"])
    generator.to(device).eval()
    return LoadedRun(
        name=run_dir.name,
        run_dir=run_dir,
        generator=generator,
        z_dim=config.z_dim,
        data=config.data,
        image_size=config.image_size,
        step=int(state["step"]),
        regularizer_spaces=regularizer_spaces(list(config.regularizers)),
    )


def _channels(generator_state: dict[str, Any]) -> int | None:
    """Output channels of a DCGAN generator from its last transposed convolution's weight."""
    weights = [v for k, v in generator_state.items() if k.endswith("weight") and v.dim() == 4]
    return int(weights[-1].shape[1]) if weights else None
