"""Names to factories: collect what plugins register and look names up.

``get_loss("bce", **options)`` finds the factory that a plugin registered under ``"bce"`` and calls
it with the options. Registrations are collected afresh on every call (calling the register hooks
is cheap; factories are only called on lookup), so plugins added or removed at run time are seen.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gan_regularizers.errors import DuplicateNameError, PluginLoadWarning, UnknownNameError
from gan_regularizers.plugin_system.manager import get_plugin_manager, plugin_source

HOOK_OF_KIND = {
    "loss": "register_losses",
    "regularizer": "register_regularizers",
    "feature space": "register_feature_spaces",
    "augmentation": "register_augmentations",
    "metric": "register_metrics",
    "dataset": "register_datasets",
}


@dataclass(frozen=True)
class Registration:
    """One name registered by one plugin."""

    kind: str
    name: str
    factory: Callable[..., Any]
    plugin: str
    distribution: str | None


@dataclass(frozen=True)
class PluginInfo:
    """A loaded plugin: where it came from and the names it registers, by kind."""

    name: str
    distribution: str | None
    version: str | None
    registers: dict[str, list[str]] = field(default_factory=dict)


def _origin(registration: Registration) -> str:
    where = registration.distribution or "registered at run time"
    return f"plugin {registration.plugin!r} ({where})"


def collect(kind: str) -> dict[str, Registration]:
    """Every registration of one kind (``"loss"``, ``"regularizer"`` or ``"feature space"``)."""
    hook = getattr(get_plugin_manager().hook, HOOK_OF_KIND[kind])
    found: dict[str, Registration] = {}
    for impl in reversed(hook.get_hookimpls()):  # registration order
        plugin_name = impl.plugin_name
        distribution = plugin_source(plugin_name).distribution

        def register(
            name: str,
            factory: Callable[..., Any],
            _plugin: str = plugin_name,
            _distribution: str | None = distribution,
        ) -> None:
            if not isinstance(name, str) or not name:
                raise TypeError(f"{kind} names must be non-empty strings, got {name!r}")
            if not callable(factory):
                raise TypeError(f"the factory registered for {kind} {name!r} is not callable")
            new = Registration(kind, name, factory, _plugin, _distribution)
            if name in found:
                raise DuplicateNameError(
                    f"The {kind} {name!r} is registered twice: by {_origin(found[name])} and by "
                    f"{_origin(new)}. Uninstall or disable one of them "
                    "(GAN_REGULARIZERS_DISABLE_PLUGINS=name)."
                )
            found[name] = new

        try:
            impl.function(register=register)
        except DuplicateNameError:
            raise
        except Exception as error:
            warnings.warn(
                f"plugin {plugin_name!r} raised {type(error).__name__}: {error} while registering "
                f"its {kind} names; they are skipped.",
                PluginLoadWarning,
                stacklevel=2,
            )
    return found


def _check_options(registration: Registration, options: dict[str, Any]) -> None:
    try:
        parameters = inspect.signature(registration.factory).parameters
    except (TypeError, ValueError):
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return
    accepted = [
        n
        for n, p in parameters.items()
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    ]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise TypeError(
            f"{registration.kind} {registration.name!r} got unknown option(s) "
            f"{', '.join(unknown)}; it accepts: {', '.join(accepted) or '(no options)'}."
        )


def create(kind: str, name: str, **options: Any) -> Any:
    """Look ``name`` up among the registrations of ``kind``; call its factory with ``options``."""
    registrations = collect(kind)
    if name not in registrations:
        raise UnknownNameError(kind, name, registrations)
    registration = registrations[name]
    _check_options(registration, options)
    return registration.factory(**options)


def list_losses() -> list[str]:
    """Names of every registered adversarial loss, sorted."""
    return sorted(collect("loss"))


def list_regularizers() -> list[str]:
    """Names of every registered generator regularizer, sorted."""
    return sorted(collect("regularizer"))


def list_feature_spaces() -> list[str]:
    """Names of every registered feature space, sorted."""
    return sorted(collect("feature space"))


def get_loss(name: str, **options: Any) -> Any:
    """Build the adversarial loss registered as ``name`` (e.g. ``"bce"``, ``"lsgan"``)."""
    return create("loss", name, **options)


def get_regularizer(name: str, **options: Any) -> Any:
    """Build the generator regularizer registered as ``name`` (e.g. ``"centroid"``)."""
    return create("regularizer", name, **options)


def get_feature_space(name: str, **options: Any) -> Any:
    """Build the feature space registered as ``name`` (e.g. ``"vgg16"``)."""
    return create("feature space", name, **options)


def list_augmentations() -> list[str]:
    """Names of every registered augmentation, sorted."""
    return sorted(collect("augmentation"))


def get_augmentation(name: str, **options: Any) -> Any:
    """Build the augmentation registered as ``name`` (e.g. ``"diffaugment"``)."""
    return create("augmentation", name, **options)


def list_metrics() -> list[str]:
    """Names of every registered metric, sorted."""
    return sorted(collect("metric"))


def get_metric(name: str, **options: Any) -> Any:
    """Build the metric registered as ``name`` (e.g. ``"fd-dinov2"``)."""
    return create("metric", name, **options)


def list_datasets() -> list[str]:
    """Names of every registered dataset, sorted."""
    return sorted(collect("dataset"))


def get_dataset(name: str, **options: Any) -> Any:
    """Build the dataset registered as ``name`` (e.g. ``"mnist5k"``)."""
    return create("dataset", name, **options)


def list_plugins() -> list[PluginInfo]:
    """Every loaded plugin with its distribution, version and the names it registers."""
    manager = get_plugin_manager()
    registers: dict[str, dict[str, list[str]]] = {}
    for kind in HOOK_OF_KIND:
        for name, registration in sorted(collect(kind).items()):
            registers.setdefault(registration.plugin, {}).setdefault(kind, []).append(name)
    plugins = []
    for plugin_name, plugin in manager.list_name_plugin():
        if plugin is None:  # blocked by GAN_REGULARIZERS_DISABLE_PLUGINS
            continue
        source = plugin_source(plugin_name)
        plugins.append(
            PluginInfo(
                name=plugin_name,
                distribution=source.distribution,
                version=source.version,
                registers=registers.get(plugin_name, {}),
            )
        )
    return sorted(plugins, key=lambda info: info.name)
