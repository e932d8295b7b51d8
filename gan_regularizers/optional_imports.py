"""Import optional dependencies inside the factories that need them, with an install hint."""

from __future__ import annotations

import importlib
from types import ModuleType

from gan_regularizers.errors import MissingExtraError


def import_optional(module: str, extra: str, feature: str) -> ModuleType:
    """Import ``module`` or raise ``MissingExtraError`` naming ``pip install "…[extra]"``.

    Args:
        module: importable module name, e.g. ``"open_clip"``.
        extra: the gan-regularizers extra that installs it, e.g. ``"clip"``.
        feature: what needs it, for the message, e.g. ``"The 'clip' feature space"``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        if error.name is not None and error.name.split(".")[0] != module.split(".")[0]:
            raise  # the package is there but one of its own imports is broken: show that
        raise MissingExtraError(module, extra, feature) from error
