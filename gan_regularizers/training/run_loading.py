"""Load a training run: its config, generator, discriminator and regularizers' spaces.

The networks are rebuilt through the architecture registry from the run's config (its
``architecture`` spec, ``image_size``, ``z_dim``, ``num_classes``; the image channels from the
checkpoint's ``architecture`` record) and loaded from the checkpoint, the generator preferring
the EMA weights (key ``generator_ema``) when the checkpoint has them; ``LoadedRun.weights``
says which was loaded, and evaluation records it in the protocol. A run of your own modules
(``train(generator=G, discriminator=D)``) needs them again: ``load_run(path, generator=G)``.
The spaces the run's regularizers optimised are read from their specs, or from the registered
factory's default (its ``feature_space`` parameter, or its ``default_feature_space`` attribute).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gan_regularizers.errors import ConfigError


@dataclass
class LoadedRun:
    """A trained generator (and discriminator) with the config, data spec and spaces of its run.

    ``generator`` is the network itself (``G(z)``, or ``G(z, labels)`` when ``num_classes > 0``);
    ``sampler`` is what evaluation draws from, ``z → images`` (class-balanced labels
    ``i mod K`` for a conditional generator).
    """

    name: str
    run_dir: Path
    generator: nn.Module
    z_dim: int
    data: str
    image_size: int
    step: int
    regularizer_spaces: list[str]
    weights: str = "generator"
    discriminator: nn.Module | None = None
    config: Any = None
    num_classes: int = 0
    architecture: str = "dcgan"

    @property
    def sampler(self) -> nn.Module:
        """``z → images``: the generator, with class-balanced labels when conditional."""
        if self.num_classes == 0:
            return self.generator
        return ClassBalancedGenerator(self.generator, self.num_classes)


class ClassBalancedGenerator(nn.Module):
    """A conditional generator as ``z → images``: sample ``i`` of a batch gets label ``i mod K``.

    Evaluating ``N`` samples in batches of a multiple of ``K`` draws every class ``N / K`` times.
    """

    def __init__(self, generator: nn.Module, num_classes: int) -> None:
        super().__init__()
        self.generator, self.num_classes = generator, num_classes
        self.z_dim = generator.z_dim
        self.train(generator.training)  # a caller that restores "its" mode restores G's

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """``G(z, arange(B) mod K)``."""
        labels = torch.arange(z.shape[0], device=z.device) % self.num_classes
        return self.generator(z.flatten(1), labels)


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
        if spec.startswith("<"):  # a module passed to train() ("<module: Name>"): not a spec
            continue
        name, options = parse_spec(spec)
        space = options.get("feature_space", _default_feature_space(name))
        if space is not None:
            spaces.append(str(space))
    return spaces


def load_run(
    path: str | Path,
    device: str | torch.device = "cpu",
    generator: nn.Module | None = None,
    discriminator: nn.Module | None = None,
) -> LoadedRun:
    """A run folder (or its checkpoint file) → the networks in eval mode and the run's facts.

    Args:
        path: the run folder or its ``checkpoint.pt``.
        device: where the networks go.
        generator, discriminator: a run of your own modules needs them again (the weights are
            loaded into them); a run of a registered architecture is rebuilt without them.

    Raises:
        ConfigError: a run of your own modules loaded without ``generator=``, or with modules
            of other classes.
    """
    from gan_regularizers.training.checkpoint import load_checkpoint
    from gan_regularizers.training.config import load_config

    source = Path(path)
    state = load_checkpoint(source)
    config = load_config(state["config"])
    run_dir = source if source.is_dir() else source.parent
    weights = "generator_ema" if state.get("generator_ema") is not None else "generator"
    networks = _networks(config, state, generator, discriminator)
    networks[0].load_state_dict(state[weights])
    if networks[1] is not None:
        networks[1].load_state_dict(state["discriminator"])
    for network in networks:
        if network is not None:
            network.to(device).eval()
    return LoadedRun(
        name=run_dir.name,
        run_dir=run_dir,
        generator=networks[0],
        z_dim=config.z_dim,
        data=config.data,
        image_size=config.image_size,
        step=int(state["step"]),
        regularizer_spaces=regularizer_spaces(list(config.regularizers)),
        weights=weights,
        discriminator=networks[1],
        config=config,
        num_classes=int(config.num_classes),
        architecture=config.architecture,
    )


def _networks(
    config: Any, state: dict[str, Any], generator: nn.Module | None, discriminator: Any
) -> tuple[nn.Module, nn.Module | None]:
    """The registry's build of the run's architecture, or the user's modules (checked)."""
    from gan_regularizers.training.networks import build_architecture, is_user_modules

    if not is_user_modules(config.architecture):
        if generator is not None or discriminator is not None:
            raise ConfigError(
                f"the run's architecture is {config.architecture!r}, rebuilt through the "
                "registry; do not pass generator= or discriminator= to load it."
            )
        return build_architecture(
            config.architecture, image_size=config.image_size, z_dim=config.z_dim,
            channels=_channels(config, state), num_classes=int(config.num_classes),
        )  # fmt: skip
    if generator is None:
        raise ConfigError(
            f"this run trained modules passed to train() ({config.architecture}); load it with "
            "them: load_run(RUN_DIR, generator=G, discriminator=D) from Python (the CLI cannot "
            "build them). The discriminator is optional."
        )
    record = state.get("architecture", {})
    for role, module in (("generator", generator), ("discriminator", discriminator)):
        expected = record.get(role)
        if module is not None and expected and type(module).__name__ != expected:
            raise ConfigError(
                f"the run's {role} was a {expected}, but a {type(module).__name__} was passed; "
                f"pass a {expected} built with the same sizes."
            )
    return generator, discriminator


def _channels(config: Any, state: dict[str, Any]) -> int:
    """The images' channels: the checkpoint's record, else the run's dataset."""
    recorded = state.get("architecture", {}).get("channels")
    if recorded is not None:
        return int(recorded)
    from gan_regularizers.data.sources import dataset_shape, load_dataset

    channels, _ = dataset_shape(load_dataset(config.data, image_size=config.image_size))
    return channels
