"""Fitted regularizers: calling ``fit`` with the options it takes, and its state as a file.

A regularizer with reference statistics (the ``FittableRegularizer`` contract) declares
``fit(data)``; the package may offer it more, ``max_images``, ``batch_size`` and ``cache``, and
passes each only when ``fit``'s signature names it (or takes ``**options``), so a plugin written
to the bare contract is called as the contract says.

``gan-regularizers fit --regularizer SPEC --out FILE`` saves a fitted regularizer that has no
file format of its own as ``{"format", "name", "spec", "state_dict"}`` (tensors only, loaded
back with ``weights_only=True``); ``train`` loads it for a spec given ``fitted=FILE``.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gan_regularizers.errors import StatisticsFileError
from gan_regularizers.files.torch_files import atomic_torch_save, checked_torch_load

FILE_FORMAT = "gan-regularizers-fitted-regularizer"
FIT_AGAIN = "Fit it again: gan-regularizers fit --regularizer SPEC --out FILE."


def is_fittable(module: Any) -> bool:
    """True for a regularizer with reference statistics (a callable ``fit``)."""
    return callable(getattr(module, "fit", None))


def options_taken_by(function: Callable[..., Any], options: dict[str, Any]) -> dict[str, Any]:
    """The entries of ``options`` that ``function`` takes (all of them with ``**options``)."""
    parameters = inspect.signature(function).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return dict(options)
    names = {p.name for p in parameters if p.kind is not inspect.Parameter.POSITIONAL_ONLY}
    return {key: value for key, value in options.items() if key in names}


def fit_regularizer(module: Any, data: Any, **options: Any) -> None:
    """``module.fit(data, **options)`` with only the options its ``fit`` takes."""
    module.fit(data, **options_taken_by(module.fit, options))


def save_fitted_state(module: Any, name: str, spec: str, path: str | os.PathLike[str]) -> Path:
    """Write ``module``'s ``state_dict`` with its registered ``name`` and ``spec``, atomically."""
    payload = {
        "format": FILE_FORMAT,
        "name": name,
        "spec": spec,
        "state_dict": {key: value.detach().cpu() for key, value in module.state_dict().items()},
    }
    return atomic_torch_save(payload, path)


def load_fitted_state(module: Any, name: str, path: str | os.PathLike[str]) -> None:
    """Fill ``module`` (the regularizer ``name``) from ``save_fitted_state``'s file.

    Raises:
        StatisticsFileError: no such file, another format, another regularizer's file, a state
            that does not fit the module (other options), or a module still not fitted after it.
    """
    payload = checked_torch_load(
        path, FILE_FORMAT, noun="fitted-regularizer file", advice=FIT_AGAIN
    )
    if payload.get("name") != name:
        raise StatisticsFileError(
            f"{path} holds the fitted state of {payload.get('name')!r} (spec "
            f"{payload.get('spec')!r}), not of {name!r}. Give {name}'s own file to fitted=."
        )
    try:
        module.load_state_dict(payload["state_dict"])
    except (RuntimeError, KeyError, TypeError) as error:
        raise StatisticsFileError(
            f"{path} does not fit this {name}: it was fitted as {payload.get('spec')!r}, with "
            f"other options ({type(error).__name__}: {str(error).splitlines()[0]}). Use the "
            f"same options, or {FIT_AGAIN[0].lower()}{FIT_AGAIN[1:]}"
        ) from error
    if not getattr(module, "fitted", True):
        raise StatisticsFileError(f"{path} leaves {name} unfitted. {FIT_AGAIN}")
