"""The errors a study raises on purpose (subclasses of the package's base error)."""

from __future__ import annotations

from gan_regularizers.errors import ConfigError, GanRegularizersError


class StudyError(GanRegularizersError):
    """A study cannot run, report or verify as asked (the message says what to do)."""


class StudyFileError(StudyError, ConfigError):
    """A study file (TOML) that does not follow the schema; the message names the key."""
