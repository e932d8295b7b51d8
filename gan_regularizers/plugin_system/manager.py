"""Build the pluggy plugin manager: every plugin, built-in or third-party, comes from entry points.

Built-in plugins are declared in gan-regularizers' own ``[project.entry-points.gan_regularizers]``
table and are loaded by exactly the same loop as anybody else's. A broken plugin (it fails to
import, calls ``sys.exit``, misspells a hook, gives a hook a wrong signature, or clashes with
another distribution's plugin name) is skipped with a ``PluginLoadWarning`` and recorded, so
``gan-regularizers plugins`` can show it as broken while everything else keeps working. Built-in
plugins are loaded first: a third-party entry point named like one (``hinge``) is the one skipped,
wherever it sits on ``sys.path``.
"""

from __future__ import annotations

import difflib
import os
import re
import warnings
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pluggy

from gan_regularizers.errors import PluginLoadWarning
from gan_regularizers.plugin_system import hookspecs

ENTRY_POINT_GROUP = "gan_regularizers"
DISABLE_ENV_VAR = "GAN_REGULARIZERS_DISABLE_PLUGINS"
OWN_DISTRIBUTION = "gan-regularizers"
HOOK_NAMES = tuple(
    name for name, value in vars(hookspecs).items() if hasattr(value, "gan_regularizers_spec")
)


@dataclass(frozen=True)
class PluginSource:
    """Where a loaded plugin came from."""

    distribution: str | None
    version: str | None


@dataclass(frozen=True)
class BrokenPlugin:
    """A plugin that was skipped (or one of whose hooks failed), and why."""

    name: str
    source: PluginSource
    error: str
    loaded: bool


_manager: pluggy.PluginManager | None = None
_sources: dict[str, PluginSource] = {}
_broken: list[BrokenPlugin] = []


def disabled_plugin_names() -> set[str]:
    """Plugin names listed in ``GAN_REGULARIZERS_DISABLE_PLUGINS`` (comma separated)."""
    raw = os.environ.get(DISABLE_ENV_VAR, "")
    return {part.strip() for part in raw.split(",") if part.strip()}


def get_plugin_manager() -> pluggy.PluginManager:
    """Return the process-wide plugin manager, loading entry points on first use."""
    global _manager
    if _manager is None:
        manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        manager.add_hookspecs(hookspecs)
        _sources.clear()
        _broken.clear()
        _load_entry_points(manager)
        _manager = manager
    return _manager


def reset_plugin_manager() -> None:
    """Forget the loaded plugins; the next lookup loads entry points again."""
    global _manager
    _manager = None
    _sources.clear()
    _broken.clear()


def plugin_source(plugin_name: str) -> PluginSource:
    """The distribution and version a plugin was loaded from (``None`` for runtime plugins)."""
    return _sources.get(plugin_name, PluginSource(None, None))


def broken_plugins() -> list[BrokenPlugin]:
    """Every plugin skipped or with a failed hook since the manager was built, in order."""
    return list(_broken)


def describe_plugin(name: str, source: PluginSource | None = None) -> str:
    """``plugin 'x' (distribution d 1.0)``, or ``plugin 'x' (registered at run time)``."""
    source = source or plugin_source(name)
    if source.distribution is None:
        return f"plugin {name!r} (registered at run time)"
    return f"plugin {name!r} (distribution {source.distribution} {source.version})"


def report_broken(
    name: str,
    problem: str,
    *,
    source: PluginSource | None = None,
    loaded: bool = False,
    fix: str | None = None,
) -> None:
    """Record a broken plugin and warn once, naming its distribution and what to do."""
    source = source or plugin_source(name)
    if any(b.name == name and b.error == problem and b.source == source for b in _broken):
        return
    _broken.append(BrokenPlugin(name, source, problem, loaded))
    if fix is None:
        fix = f"fix or uninstall {source.distribution}" if source.distribution else "fix it"
        fix += f", or disable it with {DISABLE_ENV_VAR}={name}"
    warnings.warn(
        f"{describe_plugin(name, source)} {problem}; "
        f"{'its names from that hook are' if loaded else 'it was'} skipped and everything else "
        f"keeps working. To resolve it, {fix}.",
        PluginLoadWarning,
        stacklevel=3,
    )


def _distribution_of(entry_point: EntryPoint) -> PluginSource:
    dist = getattr(entry_point, "dist", None)
    if dist is None:
        return PluginSource(None, None)
    return PluginSource(dist.metadata["Name"], dist.version)


def _hook_problem(plugin: Any) -> str | None:
    """Why pluggy would reject or silently ignore ``plugin``'s hooks, or ``None``."""
    marker = f"{hookspecs.PROJECT_NAME}_impl"
    marked = [n for n in dir(plugin) if hasattr(getattr(plugin, n, None), marker)]
    for attribute in marked:
        options = getattr(getattr(plugin, attribute), marker) or {}
        name = options.get("specname") or attribute
        if name not in HOOK_NAMES:
            close = difflib.get_close_matches(name, HOOK_NAMES, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            return (
                f"implements the unknown hook {name!r}{hint}; the hooks are {', '.join(HOOK_NAMES)}"
            )
    if not marked:
        unmarked = [n for n in HOOK_NAMES if callable(getattr(plugin, n, None))]
        if unmarked:
            return f"defines {', '.join(unmarked)} without the @hookimpl marker"
        return "implements no hook (mark its functions with @gan_regularizers.hookimpl)"
    return None


def _import(entry_point: EntryPoint, source: PluginSource) -> Any | None:
    """The plugin's module, or ``None`` after reporting why it could not be imported."""
    try:
        return entry_point.load()
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # SystemExit too: a plugin must not end the host process
        report_broken(
            entry_point.name,
            f"failed to import ({type(error).__name__}: {error})",
            source=source,
        )
        return None


def _is_builtin(source: PluginSource) -> bool:
    """Whether a plugin comes from gan-regularizers itself (its built-ins)."""
    return re.sub(r"[-_.]+", "-", (source.distribution or "")).lower() == OWN_DISTRIBUTION


def _ordered(found: list[EntryPoint]) -> list[EntryPoint]:
    """Built-in plugins first, then the others in ``sys.path`` order: a built-in always keeps
    its plugin name, whatever is installed earlier on ``sys.path``."""
    builtin = [ep for ep in found if _is_builtin(_distribution_of(ep))]
    return builtin + [ep for ep in found if ep not in builtin]


def _report_clash(name: str, source: PluginSource) -> None:
    earlier = _sources.get(name, PluginSource(None, None))
    if _is_builtin(earlier):
        report_broken(
            name,
            f"uses the plugin name {name!r} of a built-in plugin of gan-regularizers, which is "
            "kept (built-in plugins are loaded first)",
            source=source,
            fix=f"rename the entry point {name!r} in {source.distribution}'s "
            "[project.entry-points.gan_regularizers] table (plugin names must be unique), or "
            f"uninstall {source.distribution}",
        )
        return
    report_broken(
        name,
        f"has the same plugin name as distribution {earlier.distribution} "
        f"{earlier.version}, which was loaded first (it comes earlier on sys.path)",
        source=source,
        fix=f"rename the entry point {name!r} in one of the two distributions, or uninstall one",
    )


def _load_entry_points(manager: pluggy.PluginManager) -> None:
    disabled = disabled_plugin_names()
    for entry_point in _ordered(list(entry_points(group=ENTRY_POINT_GROUP))):
        name = entry_point.name
        source = _distribution_of(entry_point)
        if name in disabled:
            manager.set_blocked(name)
            continue
        if manager.has_plugin(name) or name in _sources:
            if _sources.get(name, PluginSource(None, None)).distribution != source.distribution:
                _report_clash(name, source)
            continue  # the same distribution seen twice on sys.path, or the clash above
        module = _import(entry_point, source)
        if module is None:
            continue
        problem = _hook_problem(module)
        if problem is None:
            try:
                manager.register(module, name=name)
            except pluggy.PluginValidationError as error:
                problem = f"has a hook with a wrong signature ({error})"
            except ValueError as error:  # the same module under a second entry-point name
                problem = f"could not be registered ({error})"
        if problem is not None:
            report_broken(name, problem, source=source)
            continue
        _sources[name] = source
