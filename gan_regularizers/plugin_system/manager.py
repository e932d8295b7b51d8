"""Build the pluggy plugin manager: every plugin, built-in or third-party, comes from entry points.

Built-in plugins are declared in gan-regularizers' own ``[project.entry-points.gan_regularizers]``
table and are loaded by exactly the same loop as anybody else's.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points

import pluggy

from gan_regularizers.errors import DuplicateNameError, PluginLoadWarning
from gan_regularizers.plugin_system import hookspecs

ENTRY_POINT_GROUP = "gan_regularizers"
DISABLE_ENV_VAR = "GAN_REGULARIZERS_DISABLE_PLUGINS"


@dataclass(frozen=True)
class PluginSource:
    """Where a loaded plugin came from."""

    distribution: str | None
    version: str | None


_manager: pluggy.PluginManager | None = None
_sources: dict[str, PluginSource] = {}


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
        _load_entry_points(manager)
        manager.check_pending()
        _manager = manager
    return _manager


def reset_plugin_manager() -> None:
    """Forget the loaded plugins; the next lookup loads entry points again."""
    global _manager
    _manager = None
    _sources.clear()


def plugin_source(plugin_name: str) -> PluginSource:
    """The distribution and version a plugin was loaded from (``None`` for runtime plugins)."""
    return _sources.get(plugin_name, PluginSource(None, None))


def _distribution_of(entry_point: EntryPoint) -> PluginSource:
    dist = getattr(entry_point, "dist", None)
    if dist is None:
        return PluginSource(None, None)
    return PluginSource(dist.metadata["Name"], dist.version)


def _describe(name: str, source: PluginSource) -> str:
    if source.distribution is None:
        return f"plugin {name!r}"
    return f"plugin {name!r} (distribution {source.distribution} {source.version})"


def _load_entry_points(manager: pluggy.PluginManager) -> None:
    disabled = disabled_plugin_names()
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        name = entry_point.name
        source = _distribution_of(entry_point)
        if name in disabled:
            manager.set_blocked(name)
            continue
        if manager.has_plugin(name):
            earlier = _sources.get(name, PluginSource(None, None))
            if earlier.distribution == source.distribution:
                continue  # the same distribution seen twice on sys.path
            raise DuplicateNameError(
                f"Two distributions declare the plugin {name!r}: {earlier.distribution} "
                f"and {source.distribution}. Uninstall one of them, or disable this name with "
                f"{DISABLE_ENV_VAR}={name}."
            )
        try:
            module = entry_point.load()
        except Exception as error:  # a broken third-party plugin must not break the rest
            warnings.warn(
                f"{_describe(name, source)} failed to import and was skipped "
                f"({type(error).__name__}: {error}). Everything else keeps working. Reinstall or "
                f"fix it, or silence this with {DISABLE_ENV_VAR}={name}.",
                PluginLoadWarning,
                stacklevel=2,
            )
            continue
        manager.register(module, name=name)
        _sources[name] = source
