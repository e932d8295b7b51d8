"""Names to factories: collect what plugins register and look names up.

``get_loss("bce", **options)`` finds the factory that a plugin registered under ``"bce"`` and calls
it with the options. Registrations are collected afresh on every call (calling the register hooks
is cheap; factories are only called on lookup), so plugins added or removed at run time are seen.

A hook that raises (or registers a non-callable) is skipped with a ``PluginLoadWarning``; a name
registered by two plugins is an error only when that name is asked for; the object a factory
builds is checked against its contract (``contracts``) at once.
"""

from __future__ import annotations

import difflib
import inspect
import os
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gan_regularizers.errors import (
    DuplicateNameError,
    PluginContractError,
    PluginOptionError,
    PluginRegistrationError,
    UnknownNameError,
)
from gan_regularizers.plugin_system.manager import (
    DISABLE_ENV_VAR,
    PluginSource,
    broken_plugins,
    get_plugin_manager,
    plugin_source,
    report_broken,
)
from gan_regularizers.plugin_system.validation import validate_built
from gan_regularizers.schedules.options import build_scheduled

HOOK_OF_KIND = {
    "loss": "register_losses",
    "regularizer": "register_regularizers",
    "feature space": "register_feature_spaces",
    "augmentation": "register_augmentations",
    "metric": "register_metrics",
    "dataset": "register_datasets",
    "architecture": "register_architectures",
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
    """A plugin: where it came from, the names it registers by kind, and whether it works.

    ``status`` is ``"ok"`` or ``"broken"``; ``error`` says what is wrong with a broken one.
    """

    name: str
    distribution: str | None
    version: str | None
    registers: dict[str, list[str]] = field(default_factory=dict)
    status: str = "ok"
    error: str | None = None


def origin(registration: Registration) -> str:
    """``plugin 'x' (distribution)`` for messages."""
    where = registration.distribution or "registered at run time"
    return f"plugin {registration.plugin!r} ({where})"


def _call_hook(impl: Any, kind: str, plugin_name: str) -> list[Registration]:
    """One plugin's registrations for ``kind``; ``[]`` after reporting a failing hook."""
    distribution = plugin_source(plugin_name).distribution
    registered: list[Registration] = []

    def register(name: str, factory: Callable[..., Any]) -> None:
        if not isinstance(name, str) or not name:
            raise PluginRegistrationError(f"{kind} names must be non-empty strings, got {name!r}")
        if not callable(factory):
            raise PluginRegistrationError(
                f"the factory registered for {kind} {name!r} is a {type(factory).__name__}, "
                "not callable (register a class or function that builds the object)"
            )
        registered.append(Registration(kind, name, factory, plugin_name, distribution))

    hook = HOOK_OF_KIND[kind]
    try:
        returned = impl.function(register=register)
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # SystemExit too: one plugin never ends the host process
        report_broken(
            plugin_name, f"failed in {hook} ({type(error).__name__}: {error})", loaded=True
        )
        return []
    if returned is not None:
        report_broken(
            plugin_name,
            f"returned a {type(returned).__name__} from {hook} instead of calling "
            "register(name, factory) for each name; what it returned is ignored",
            loaded=True,
        )
    return registered


def collect_all(kind: str) -> dict[str, list[Registration]]:
    """Every registration of one kind, by name (two entries for a clashing name)."""
    hook = getattr(get_plugin_manager().hook, HOOK_OF_KIND[kind])
    found: dict[str, list[Registration]] = {}
    for impl in reversed(hook.get_hookimpls()):  # registration order
        for registration in _call_hook(impl, kind, impl.plugin_name):
            found.setdefault(registration.name, []).append(registration)
    return found


def collect(kind: str) -> dict[str, Registration]:
    """One registration per name of ``kind``; a clashing name maps to the first plugin's."""
    return {name: registrations[0] for name, registrations in collect_all(kind).items()}


def _the_registration(kind: str, name: str) -> Registration:
    registrations = collect_all(kind)
    if name not in registrations:
        raise UnknownNameError(kind, name, registrations)
    candidates = registrations[name]
    if len(candidates) > 1:
        raise DuplicateNameError(
            f"The {kind} {name!r} is registered by more than one plugin: "
            f"{' and '.join(origin(c) for c in candidates)}. Uninstall one of them or disable "
            f"it with {DISABLE_ENV_VAR}=<plugin name>; other names are unaffected."
        )
    return candidates[0]


def accepted_options(factory: Callable[..., Any]) -> tuple[list[str], bool]:
    """``(named options, whether it takes **options too)`` of a factory.

    A factory that hides its options behind ``**options`` may list them in an
    ``accepted_options`` attribute (names, or a callable returning them), for the messages.
    """
    declared = getattr(factory, "accepted_options", None)
    if declared is not None:
        names = declared() if callable(declared) else declared
        return list(names), True
    try:
        parameters = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return [], True
    named = [
        n
        for n, p in parameters.items()
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    ]
    return named, any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())


def _check_options(registration: Registration, options: dict[str, Any]) -> None:
    _check_path_options(registration, options)
    accepted, more = accepted_options(registration.factory)
    if more:
        return
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise PluginOptionError(
            f"{registration.kind} {registration.name!r} got unknown option(s) "
            f"{', '.join(unknown)}.{_did_you_mean(unknown, accepted)} It accepts: "
            f"{', '.join(accepted) or '(no options)'}.",
            kind=registration.kind,
            name=registration.name,
            keys=unknown,
            accepted=accepted,
        )


def _did_you_mean(unknown: list[str], accepted: list[str]) -> str:
    close = [
        repr(match[0])
        for key in unknown
        if (match := difflib.get_close_matches(key, accepted, n=1, cutoff=0.6))
    ]
    return f" Did you mean {' or '.join(close)}?" if close else ""


def _check_path_options(registration: Registration, options: dict[str, Any]) -> None:
    """A number or boolean given for an option annotated as a path is a clear error."""
    factory = registration.factory
    try:
        hints = typing.get_type_hints(factory.__init__ if isinstance(factory, type) else factory)
    except Exception:  # unresolvable annotations: nothing to check
        return
    for key, value in options.items():
        hint = hints.get(key)
        if hint is None or not isinstance(value, (bool, int, float)):
            continue
        members = typing.get_args(hint) or (hint,)
        if any(m is Path or m is os.PathLike or typing.get_origin(m) is os.PathLike
               for m in members) and not any(m in (int, float, bool) for m in members):  # fmt: skip
            raise PluginOptionError(
                f"{registration.kind} {registration.name!r} option {key}={value!r}: expected a "
                f"file path, got {type(value).__name__} {value!r}. Pass {key}=path/to/file, or "
                "leave it unset.",
                kind=registration.kind,
                name=registration.name,
                keys=[key],
            )


def _blame_the_outer(registration: Registration, error: PluginOptionError) -> PluginOptionError:
    """An option the outer factory passed on to an inner one (a centroid's feature space)."""
    own, _ = accepted_options(registration.factory)
    listed = ", ".join(own) or "(not listed)"
    inner = f"its {error.kind} {error.name!r}"
    what = f"{registration.kind} {registration.name!r}"
    hint = _did_you_mean(error.keys, own)
    if error.accepted is None:  # a value of the wrong kind, e.g. a number for a path
        message = (
            f"{what}: {error}{hint} (options the {registration.kind} does not take itself go "
            f"to {inner}; the {registration.kind}'s own options are: {listed}.)"
        )
    else:
        message = (
            f"{what} got unknown option(s) {', '.join(error.keys)}.{hint} It accepts: {listed}. "
            f"Options it does not take itself go to {inner}, which accepts: "
            f"{', '.join(error.accepted) or '(no options)'}."
        )
    return PluginOptionError(
        message, kind=registration.kind, name=registration.name, keys=error.keys
    )


def create(kind: str, name: str, **options: Any) -> Any:
    """Look ``name`` up among the registrations of ``kind``; build it and check its contract.

    Raises:
        UnknownNameError: nobody registered ``name``.
        PluginOptionError: an option the factory (or one it calls) does not take, or a number
            where a path is expected; options passed on to an inner registration are named
            with the outer one's options (``centroid:weigth=0.1`` suggests ``weight``).
        PluginContractError: the factory called ``sys.exit`` or built a non-conforming object.
    """
    registration = _the_registration(kind, name)
    _check_options(registration, options)
    try:
        built = build_scheduled(registration.factory, options, name)  # schedules: first value
    except PluginOptionError as error:
        if error.name == name or not set(error.keys) <= set(options):
            raise
        raise _blame_the_outer(registration, error) from None
    except SystemExit as exit_:
        raise PluginContractError(
            f"{origin(registration)} called sys.exit({exit_.code!r}) while building the {kind} "
            f"{name!r}; a plugin must raise an exception instead of ending the program. Fix or "
            f"uninstall {registration.distribution or 'that plugin'}, or disable it with "
            f"{DISABLE_ENV_VAR}={registration.plugin}."
        ) from None
    validate_built(kind, name, origin(registration), built)
    return built


def list_losses() -> list[str]:
    """Names of every registered adversarial loss, sorted."""
    return sorted(collect_all("loss"))


def list_regularizers() -> list[str]:
    """Names of every registered regularizer (both sides), sorted."""
    return sorted(collect_all("regularizer"))


def list_feature_spaces() -> list[str]:
    """Names of every registered feature space, sorted."""
    return sorted(collect_all("feature space"))


def get_loss(name: str, **options: Any) -> Any:
    """Build the adversarial loss registered as ``name`` (e.g. ``"bce"``, ``"hinge"``)."""
    return create("loss", name, **options)


def get_regularizer(name: str, **options: Any) -> Any:
    """Build the regularizer registered as ``name`` (e.g. ``"centroid"``, ``"r1"``)."""
    return create("regularizer", name, **options)


def get_feature_space(name: str, **options: Any) -> Any:
    """Build the feature space registered as ``name`` (e.g. ``"vgg16"``)."""
    return create("feature space", name, **options)


def list_augmentations() -> list[str]:
    """Names of every registered augmentation, sorted."""
    return sorted(collect_all("augmentation"))


def get_augmentation(name: str, **options: Any) -> Any:
    """Build the augmentation registered as ``name`` (e.g. ``"diffaugment"``)."""
    return create("augmentation", name, **options)


def list_metrics() -> list[str]:
    """Names of every registered metric, sorted."""
    return sorted(collect_all("metric"))


def get_metric(name: str, **options: Any) -> Any:
    """Build the metric registered as ``name`` (e.g. ``"fd-dinov2"``)."""
    return create("metric", name, **options)


def list_datasets() -> list[str]:
    """Names of every registered dataset, sorted."""
    return sorted(collect_all("dataset"))


def get_dataset(name: str, **options: Any) -> Any:
    """Build the dataset registered as ``name`` (e.g. ``"mnist5k"``)."""
    return create("dataset", name, **options)


def list_architectures() -> list[str]:
    """Names of every registered architecture, sorted."""
    return sorted(collect_all("architecture"))


def get_architecture(
    name: str, *, image_size: int, channels: int, z_dim: int, num_classes: int = 0,
    **options: Any,
) -> tuple[Any, Any]:  # fmt: skip
    """Build ``(generator, discriminator)`` of the architecture registered as ``name``.

    Args:
        name: e.g. ``"dcgan"``, ``"resnet"``, ``"mlp"``.
        image_size, channels: the images' side and channels.
        z_dim: the generator's latent size.
        num_classes: ``K > 0`` builds class-conditional networks (labels in ``[0, K)``).
        **options: the architecture's own options (``g_width``, ``spectral_norm``, …).
    """
    built = create(
        "architecture", name, image_size=image_size, channels=channels, z_dim=z_dim,
        num_classes=num_classes, **options,
    )  # fmt: skip
    if getattr(built[0], "z_dim", None) != z_dim:
        registration = _the_registration("architecture", name)
        raise PluginContractError(
            f"The architecture {name!r} from {origin(registration)} built a generator whose "
            f"z_dim is {getattr(built[0], 'z_dim', None)!r}, not the requested {z_dim}. Fix the "
            "plugin: the generator needs an int attribute z_dim (docs/architectures.md)."
        )
    return built


def list_plugins() -> list[PluginInfo]:
    """Every plugin with its distribution, version, the names it registers and its status.

    Plugins that failed to load are listed too, with ``status="broken"`` and the ``error``;
    plugins disabled with ``GAN_REGULARIZERS_DISABLE_PLUGINS`` are not listed.
    """
    manager = get_plugin_manager()
    registers: dict[str, dict[str, list[str]]] = {}
    for kind in HOOK_OF_KIND:
        for name, registrations in sorted(collect_all(kind).items()):
            for registration in registrations:
                registers.setdefault(registration.plugin, {}).setdefault(kind, []).append(name)
    errors: dict[tuple[str, PluginSource], list[str]] = {}
    for broken in broken_plugins():
        errors.setdefault((broken.name, broken.source), []).append(broken.error)
    plugins = []
    for plugin_name, plugin in manager.list_name_plugin():
        if plugin is None:  # blocked by GAN_REGULARIZERS_DISABLE_PLUGINS
            continue
        source = plugin_source(plugin_name)
        problems = errors.pop((plugin_name, source), [])
        plugins.append(
            PluginInfo(
                plugin_name,
                source.distribution,
                source.version,
                registers.get(plugin_name, {}),
                "broken" if problems else "ok",
                "; ".join(problems) or None,
            )
        )
    for (plugin_name, source), problems in errors.items():  # never loaded
        plugins.append(
            PluginInfo(
                plugin_name, source.distribution, source.version, {}, "broken", "; ".join(problems)
            )
        )
    return sorted(plugins, key=lambda info: (info.name, info.distribution or ""))
