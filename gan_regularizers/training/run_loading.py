"""Load what evaluation needs from a training run: its generator, config and real data.

The generator is built from what the run's config says (``generator``, default ``dcgan``, with
``image_size``, ``z_dim``, ``g_width``) and loaded from the checkpoint, preferring the EMA
weights (key ``generator_ema``) when the checkpoint has them; :attr:`LoadedRun.weights` says
which was loaded, and evaluation records it in the protocol. The spaces the run's regularizers
optimised are read from their specs, or from the registered factory's default (its
``feature_space`` parameter, or its ``default_feature_space`` attribute).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gan_regularizers.errors import GanRegularizersError


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
    weights: str = "generator"


def _dcgan(config: Any, channels: int) -> nn.Module:
    from gan_regularizers.models.dcgan import DCGANGenerator

    return DCGANGenerator(config.image_size, channels, config.z_dim, config.g_width)


#: generator architectures a run's config can name (``generator = "dcgan"``)
GENERATORS: dict[str, Callable[[Any, int], nn.Module]] = {"dcgan": _dcgan}


def _default_feature_space(name: str) -> str | None:
    from gan_regularizers.plugin_system.registry import collect

    registration = collect("regularizer").get(name)
    if registration is None:
        return None
    declared = getattr(registration.factory, "default_feature_space", None)
    try:
        parameter = inspect.signature(registration.factory).parameters.get("feature_space")
    except (TypeError, ValueError):
        parameter = None
    if parameter is not None and isinstance(parameter.default, str):
        return parameter.default
    return str(declared) if declared is not None else None


def regularizer_spaces(specs: list[str]) -> list[str]:
    """Feature-space names the run's regularizers optimised (given, or their factory default)."""
    from gan_regularizers.plugin_system.specs import parse_spec

    spaces = []
    for spec in specs:
        name, options = parse_spec(spec)
        space = options.get("feature_space", _default_feature_space(name))
        if space is not None:
            spaces.append(str(space))
    return spaces


def load_run(path: str | Path, device: str | torch.device = "cpu") -> LoadedRun:
    """A run folder (or its checkpoint file) → the generator in eval mode and the run's facts."""
    from gan_regularizers.training.checkpoint import load_checkpoint
    from gan_regularizers.training.config import load_config

    source = Path(path)
    state = load_checkpoint(source)
    config = load_config(state["config"])
    run_dir = source if source.is_dir() else source.parent
    weights = "generator_ema" if state.get("generator_ema") is not None else "generator"
    generator = _build_generator(config, state[weights])
    generator.load_state_dict(state[weights])
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
        weights=weights,
    )


def _build_generator(config: Any, generator_state: dict[str, Any]) -> nn.Module:
    architecture = str(getattr(config, "generator", "dcgan"))
    if architecture not in GENERATORS:
        raise GanRegularizersError(
            f"the run's config names generator {architecture!r}, which evaluation cannot build; "
            f"known: {', '.join(sorted(GENERATORS))}."
        )
    channels = _channels(generator_state)
    if channels is None:
        from gan_regularizers.data.sources import dataset_shape, load_dataset

        channels, _ = dataset_shape(load_dataset(config.data, image_size=config.image_size))
    return GENERATORS[architecture](config, channels)


def _channels(generator_state: dict[str, Any]) -> int | None:
    """Output channels of a generator from its last 4-D weight (a transposed convolution)."""
    weights = [v for k, v in generator_state.items() if k.endswith("weight") and v.dim() == 4]
    return int(weights[-1].shape[1]) if weights else None
