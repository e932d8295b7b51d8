"""Build the pluggable parts of a run from the config: the loss, the regularizers, the augmentation.

Each regularizer becomes a ``RegularizerTerm``: its module, the player it acts on
(``side``, from ``regularizer_side``) and its lazy
period ``every``. Lazy application is decided here, once, for every regularizer however it was
given: a spec option ``every=k`` is taken out before the plugin is built (the plugin never sees
it); a ready module (``train(regularizers=[module])``, recorded in the config as
``"<module: ClassName>"``) gives its period by an ``every`` attribute (``CentroidLoss(every=4)``).
The loop then runs the term only on training steps with ``(step − 1) mod k = 0``, multiplying its
value by ``k`` so the penalty per step keeps the same expectation (StyleGAN2's lazy R1).

A spec option ``fitted=FILE`` is taken out the same way: the built module is filled from the file
``gan-regularizers fit --regularizer SPEC --out FILE`` wrote, so ``train`` does not fit it again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from torch import nn

from gan_regularizers.errors import GanRegularizersError, PluginOptionError
from gan_regularizers.files.fitted_state import (
    can_be_loaded,
    is_fittable,
    load_fitted_state,
    not_a_module_advice,
)
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
        name = type(module).__name__
        return name, module, _checked_every(getattr(module, "every", 1), f"{name}.every")
    name, options = parse_spec(spec)
    every = options.pop("every", None)
    if every is not None:
        every = _checked_every(every, f"config key 'regularizers', {spec!r}: every")
    fitted = options.pop("fitted", None)
    try:
        module = get_regularizer(name, **options)
    except (TypeError, ValueError) as error:
        if isinstance(error, GanRegularizersError) and not isinstance(error, PluginOptionError):
            raise  # a bad option is named with the config key below
        raise ConfigError(f"config key 'regularizers', {spec!r}: {error}") from error
    if fitted is not None:
        _load_fitted(module, name, spec, fitted)
    if every is None:  # the module's own period, if it declares one
        every = _checked_every(getattr(module, "every", 1), f"{name}.every")
    return name, module, every


def _load_fitted(module: Any, name: str, spec: str, path: Any) -> None:
    """Fill ``module`` from ``fitted=FILE`` (a file ``gan-regularizers fit`` wrote)."""
    if not is_fittable(module):
        raise ConfigError(
            f"config key 'regularizers', {spec!r}: fitted= loads reference statistics, but "
            f"{name!r} has no fit (nothing to load). Remove fitted=."
        )
    if not can_be_loaded(module):
        raise ConfigError(
            f"config key 'regularizers', {spec!r}: {not_a_module_advice(module, name)}"
        )
    load_fitted_state(module, name, str(path))


def _checked_every(every: Any, where: str) -> int:
    """``every`` when it is an integer ≥ 1, else a ``ConfigError`` naming ``where``."""
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ConfigError(
            f"{where} must be an integer ≥ 1 (run the term on training steps 1, 1 + k, … with "
            f"its value × k), got {every!r}."
        )
    return every


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
        if isinstance(error, GanRegularizersError) and not isinstance(error, PluginOptionError):
            raise  # a bad option is named with the config key below
        raise ConfigError(f"config key 'loss', {spec!r}: {error}") from error
    return loss


def requires_real_logits(loss: Any) -> bool:
    """The loss's ``requires_real_logits`` (absent: False): whether its generator step needs
    ``D(T(x))`` under the current discriminator (a relativistic loss does; the rest get None)."""
    return bool(getattr(loss, "requires_real_logits", False))


def build_augmentation(spec: str) -> Any:
    """The augmentation of ``spec`` (``""``: none; ``get_augmentation`` checks its contract)."""
    if not spec:
        return None
    name, options = parse_spec(spec)
    try:
        augment = get_augmentation(name, **options)
    except (TypeError, ValueError) as error:
        if isinstance(error, GanRegularizersError) and not isinstance(error, PluginOptionError):
            raise  # a bad option is named with the config key below
        raise ConfigError(f"config key 'augment', {spec!r}: {error}") from error
    return augment


def stateful(modules: dict[str, Any]) -> dict[str, nn.Module]:
    """The ``nn.Module`` entries of ``modules`` (those with a state to checkpoint)."""
    return {name: m for name, m in modules.items() if isinstance(m, nn.Module)}
