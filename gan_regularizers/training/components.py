"""Build the pluggable parts of a run from the config: the loss, the regularizers, the augmentation.

Each regularizer becomes a :class:`RegularizerTerm`: its module, the player it acts on
(``side``, from :func:`~gan_regularizers.plugin_system.contracts.regularizer_side`) and its lazy
period ``every``. Lazy application is handled here, once, for every regularizer: a spec option
``every=k`` is taken out before the plugin is built (the plugin never sees it), and the loop then
runs the term only on steps with ``(step − 1) mod k = 0``, multiplying its value by ``k`` so the
penalty per step keeps the same expectation (StyleGAN2's lazy R1).

Regularizers may also be ready ``nn.Module`` instances (``train(regularizers=[module])``); the
config then records them as ``"<module: ClassName>"``. A plugin whose factory itself takes an
``every`` option (the centroid) keeps applying it itself.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from torch import nn

from gan_regularizers.errors import GanRegularizersError
from gan_regularizers.plugin_system.contracts import Side, regularizer_side
from gan_regularizers.plugin_system.registry import get_augmentation, get_loss, get_regularizer
from gan_regularizers.plugin_system.specs import parse_spec
from gan_regularizers.plugin_system.validation import validate_built
from gan_regularizers.training.config import ConfigError

MODULE_PREFIX = "<module: "


@dataclass
class RegularizerTerm:
    """One regularizer of a run: ``value = every · module(...)`` on its active steps."""

    name: str
    module: Any
    side: Side
    every: int = 1

    def active(self, step: int) -> bool:
        """True on steps ``1, 1 + every, 1 + 2·every, …``."""
        return (step - 1) % self.every == 0


def module_placeholder(module: object) -> str:
    """What the config records for a regularizer passed as an object."""
    return f"{MODULE_PREFIX}{type(module).__name__}>"


def split_regularizers(values: Any) -> tuple[Any, list[Any]]:
    """``regularizers=[spec or module, …]`` → (config strings, the modules in order)."""
    if values is None or isinstance(values, str):
        return values, []
    specs, modules = [], []
    for value in values:
        if isinstance(value, str):
            specs.append(value)
        else:
            specs.append(module_placeholder(value))
            modules.append(value)
    return specs, modules


def _build_one(spec: str, modules: list[Any]) -> tuple[str, Any, int]:
    """One config entry → (name, module, every)."""
    if spec.startswith(MODULE_PREFIX):
        if not modules:
            raise ConfigError(
                f"config key 'regularizers': this run used a regularizer passed as an object "
                f"({spec}); pass it again, e.g. train(resume=RUN_DIR, regularizers=[module])."
            )
        module = modules.pop(0)
        return type(module).__name__, module, 1
    name, options = parse_spec(spec)
    every = 1 if _handles_every(name) else options.pop("every", 1)
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ConfigError(
            f"config key 'regularizers', {spec!r}: every must be an integer ≥ 1 (run the term "
            f"every k steps, weighted × k), got {every!r}."
        )
    try:
        return name, get_regularizer(name, **options), every
    except (TypeError, ValueError) as error:
        if isinstance(error, GanRegularizersError):
            raise
        raise ConfigError(f"config key 'regularizers', {spec!r}: {error}") from error


def _handles_every(name: str) -> bool:
    """Whether the plugin's factory takes ``every`` itself (then it applies laziness itself)."""
    from gan_regularizers.plugin_system.registry import collect

    registration = collect("regularizer").get(name)
    if registration is None:
        return False
    try:
        return "every" in inspect.signature(registration.factory).parameters
    except (TypeError, ValueError):
        return False


def build_regularizers(specs: list[str], modules: Sequence[Any] = ()) -> dict[str, RegularizerTerm]:
    """``["r1:gamma=10,every=16", …]`` → ``{"r1": term, …}`` (repeats get ``#2``, ``#3``)."""
    pending = list(modules)
    built: dict[str, RegularizerTerm] = {}
    for spec in specs:
        name, module, every = _build_one(spec, pending)
        term, count = name, 2
        while term in built:
            term, count = f"{name}#{count}", count + 1
        validate_built("regularizer", term, "the regularizers passed to train", module)
        built[term] = RegularizerTerm(term, module, regularizer_side(module), every)
    return built


def build_loss(spec: str) -> Any:
    """The adversarial loss of ``spec`` (``get_loss`` checks it against its contract)."""
    name, options = parse_spec(spec)
    try:
        loss = get_loss(name, **options)
    except (TypeError, ValueError) as error:
        if isinstance(error, GanRegularizersError):
            raise
        raise ConfigError(f"config key 'loss', {spec!r}: {error}") from error
    return loss


def takes_real_logits(loss: Any) -> bool:
    """Whether ``loss.generator_loss`` takes ``real_logits`` (losses older than it do not)."""
    try:
        parameters = inspect.signature(loss.generator_loss).parameters
    except (TypeError, ValueError):
        return True
    return "real_logits" in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
    )


def build_augmentation(spec: str) -> Any:
    """The augmentation of ``spec`` (``""``: none; ``get_augmentation`` checks its contract)."""
    if not spec:
        return None
    name, options = parse_spec(spec)
    try:
        augment = get_augmentation(name, **options)
    except (TypeError, ValueError) as error:
        if isinstance(error, GanRegularizersError):
            raise
        raise ConfigError(f"config key 'augment', {spec!r}: {error}") from error
    return augment


def stateful(modules: dict[str, Any]) -> dict[str, nn.Module]:
    """The ``nn.Module`` entries of ``modules`` (those with a state to checkpoint)."""
    return {name: m for name, m in modules.items() if isinstance(m, nn.Module)}
