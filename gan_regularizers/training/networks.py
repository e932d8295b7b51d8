"""The run's generator and discriminator: built through the architecture registry from the
config's ``architecture`` spec, or the user's own modules (``train(generator=G,
discriminator=D)``), and the class count of a conditional run.

A run of the user's own modules records them in ``architecture`` as ``"<user modules:
G=ClassName (N parameters), D=ClassName (M parameters)>"``; resuming or evaluating it needs the
same modules again, which this module checks against that record.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import nn

from gan_regularizers.errors import ConfigError, PluginContractError, SpecError

USER_MODULES_PREFIX = "<user modules: "


def parameter_count(module: nn.Module) -> int:
    """Number of parameters of ``module``."""
    return sum(p.numel() for p in module.parameters())


def describe_modules(generator: nn.Module, discriminator: nn.Module) -> str:
    """What the config records for ``train(generator=G, discriminator=D)``."""
    return (
        f"{USER_MODULES_PREFIX}G={type(generator).__name__} ({parameter_count(generator)} "
        f"parameters), D={type(discriminator).__name__} ({parameter_count(discriminator)} "
        "parameters)>"
    )


def is_user_modules(architecture: str) -> bool:
    """Whether a config's ``architecture`` records the user's own modules."""
    return architecture.startswith(USER_MODULES_PREFIX)


def user_modules_keys(
    generator: nn.Module | None, discriminator: nn.Module | None, overrides: dict[str, Any]
) -> dict[str, Any]:
    """The config keys a new run of the user's modules records (``architecture``, ``z_dim``)."""
    if generator is None or discriminator is None:
        missing = "discriminator" if generator is not None else "generator"
        raise ConfigError(
            f"train() got a generator or a discriminator but no {missing}: pass both, "
            "train(generator=G, discriminator=D, ...), or neither (the config's architecture)."
        )
    z_dim = getattr(generator, "z_dim", None)
    if isinstance(z_dim, bool) or not isinstance(z_dim, int):
        raise ConfigError(
            f"the generator passed to train() ({type(generator).__name__}) has no int attribute "
            f"z_dim (got {z_dim!r}); set generator.z_dim to its latent size: the loop draws "
            "latents of shape (B, z_dim)."
        )
    if "z_dim" in overrides and int(overrides["z_dim"]) != z_dim:
        raise ConfigError(
            f"config key 'z_dim' is {overrides['z_dim']} but the generator passed to train() "
            f"has z_dim = {z_dim}; leave z_dim out (it is taken from the generator)."
        )
    return {"architecture": describe_modules(generator, discriminator), "z_dim": z_dim}


def resolve_num_classes(num_classes: int | str, dataset: Any) -> int:
    """``num_classes``, with ``"auto"`` read from the dataset (its ``num_classes``, else
    ``max(labels) + 1`` of its ``labels`` tensor)."""
    if num_classes != "auto":
        return int(num_classes)
    declared = getattr(dataset, "num_classes", None)
    if isinstance(declared, int):
        return declared
    labels = getattr(dataset, "labels", None)
    if isinstance(labels, torch.Tensor) and labels.numel():
        return int(labels.max()) + 1
    raise ConfigError(
        f"config key 'num_classes' is 'auto' but the dataset ({type(dataset).__name__}) has "
        "neither a num_classes attribute nor a labels tensor; set num_classes to the number of "
        "classes (or 0 to train unconditionally)."
    )


def _check_passed(architecture: str, generator: nn.Module | None, discriminator: Any) -> None:
    if generator is None or discriminator is None:
        raise ConfigError(
            f"config key 'architecture': this run trained modules passed to train() "
            f"({architecture}); pass them again: train(resume=RUN_DIR, generator=G, "
            "discriminator=D) from Python, or load_run(RUN_DIR, generator=G) to evaluate it."
        )
    if describe_modules(generator, discriminator) != architecture:
        raise ConfigError(
            f"config key 'architecture': the run trained {architecture}, but the modules "
            f"passed are {describe_modules(generator, discriminator)}; pass the same classes "
            "with the same sizes."
        )


def build_networks(
    cfg: Any,
    channels: int,
    num_classes: int,
    generator: nn.Module | None = None,
    discriminator: nn.Module | None = None,
) -> tuple[nn.Module, nn.Module]:
    """``(G, D)``: the user's modules (checked against the config) or the registry's build."""
    if is_user_modules(cfg.architecture):
        _check_passed(cfg.architecture, generator, discriminator)
        return generator, discriminator  # type: ignore[return-value]
    if generator is not None or discriminator is not None:
        raise ConfigError(
            f"config key 'architecture': the run's architecture is {cfg.architecture!r}, built "
            "through the registry; do not pass generator= or discriminator= for it."
        )
    return build_architecture(
        cfg.architecture, image_size=cfg.image_size, channels=channels, z_dim=cfg.z_dim,
        num_classes=num_classes,
    )  # fmt: skip


def build_architecture(
    spec: str, *, image_size: int, channels: int, z_dim: int, num_classes: int
) -> tuple[nn.Module, nn.Module]:
    """``get_architecture`` for a spec ``"name:key=value,…"``; bad options → ConfigError."""
    from gan_regularizers.plugin_system.registry import get_architecture
    from gan_regularizers.plugin_system.specs import parse_spec

    name, options = parse_spec(spec)
    try:
        return get_architecture(
            name, image_size=image_size, channels=channels, z_dim=z_dim,
            num_classes=num_classes, **options,
        )  # fmt: skip
    except (TypeError, ValueError) as error:
        if isinstance(error, (ConfigError, PluginContractError, SpecError)):
            raise
        raise ConfigError(f"config key 'architecture' ({spec!r}): {error}") from error


def fixed_labels(num_classes: int, grid_size: int) -> torch.Tensor | None:
    """The sample grid's labels: one row per class, ``max(1, grid_size // K)`` per row."""
    if num_classes == 0:
        return None
    per_class = max(1, grid_size // num_classes)
    return torch.arange(num_classes).repeat_interleave(per_class)


class LabelledDiscriminator(nn.Module):
    """``D`` with the real batch's labels bound: ``forward(images) = D(images, labels)``.

    What a discriminator-side regularizer (R1, …) calls in a conditional run; it can pass other
    labels explicitly, ``forward(images, other_labels)``.
    """

    def __init__(self, discriminator: nn.Module, labels: torch.Tensor) -> None:
        super().__init__()
        self.discriminator, self.labels = discriminator, labels

    def forward(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """``D(images, labels or the bound labels)``."""
        return self.discriminator(images, self.labels if labels is None else labels)


def takes_labels(module: Any) -> bool:
    """Whether ``module``'s ``forward`` (or call) has a ``labels`` parameter."""
    target = getattr(module, "forward", module)
    try:
        return "labels" in inspect.signature(target).parameters
    except (TypeError, ValueError):
        return False


def architecture_record(run: Any) -> dict[str, Any]:
    """What a checkpoint records about the networks: the spec, the image channels, the class
    count, and each network's class name and parameter count."""
    from gan_regularizers.data.sources import dataset_shape

    channels, _ = dataset_shape(run.dataset)
    return {
        "spec": run.cfg.architecture,
        "channels": channels,
        "num_classes": run.num_classes,
        "generator": type(run.generator).__name__,
        "discriminator": type(run.discriminator).__name__,
        "generator_parameters": parameter_count(run.generator),
        "discriminator_parameters": parameter_count(run.discriminator),
    }
