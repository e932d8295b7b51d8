"""Exceptions and warnings that users of gan-regularizers can meet."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class GanRegularizersError(Exception):
    """Base class of every error raised on purpose by gan-regularizers."""


class UnknownNameError(GanRegularizersError, KeyError):
    """A loss, regularizer or feature space name that no plugin registered."""

    def __init__(self, kind: str, name: str, available: Iterable[str]) -> None:
        self.kind = kind
        self.name = name
        self.available = sorted(available)
        close = difflib.get_close_matches(name, self.available, n=3, cutoff=0.5)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        listed = ", ".join(self.available) if self.available else "(none registered)"
        plural = f"{kind}es" if kind.endswith("s") else f"{kind}s"
        self.message = (
            f"Unknown {kind} {name!r}.{hint} Available {plural}: {listed}. "
            "Install the plugin that provides it, or run `gan-regularizers plugins` to see "
            "what is loaded."
        )
        super().__init__(self.message)

    def __str__(self) -> str:  # KeyError would print the repr of the message
        return self.message


class DuplicateNameError(GanRegularizersError):
    """Two plugins registered the same name for the same kind of thing."""


class MissingExtraError(GanRegularizersError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""

    def __init__(self, module: str, extra: str, feature: str) -> None:
        self.module = module
        self.extra = extra
        message = (
            f"{feature} needs the optional package {module!r}, which is not installed. "
            f'Install it with: pip install "gan-regularizers[{extra}]"'
        )
        super().__init__(message, name=module)


class PluginLoadWarning(UserWarning):
    """A third-party plugin failed to load and was skipped."""


class MetricError(GanRegularizersError, ValueError):
    """An unknown metric, a malformed metric spec, or a metric that cannot be computed here."""


class FeatureMemoryError(MetricError):
    """Gathering the features a metric needs would exceed its ``max_features`` bound."""
