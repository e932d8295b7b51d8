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


def can_be_saved(module: Any) -> bool:
    """True when ``fit``'s result can be written: the module has its own ``save``, or a
    ``state_dict`` (any ``torch.nn.Module``)."""
    return callable(getattr(module, "save", None)) or can_be_loaded(module)


def can_be_loaded(module: Any) -> bool:
    """True when ``fitted=FILE`` can fill the module: it has ``state_dict`` and
    ``load_state_dict``."""
    return all(callable(getattr(module, m, None)) for m in ("state_dict", "load_state_dict"))


def not_a_module_advice(module: Any, name: str) -> str:
    """What to do about a fittable regularizer whose state this package cannot read or write."""
    return (
        f"the regularizer {name!r} ({type(module).__name__}) is not a torch.nn.Module: it has "
        "no state_dict/load_state_dict (nor a save of its own), so its fitted state cannot be "
        "written to a file or read from one. Make it an nn.Module with its statistics as "
        "buffers, or let train fit it (no fitted=)."
    )


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
