"""``torch.save`` atomically, and the one checked ``torch.load`` every package file goes through.

Every file the package reads back (statistics, cache entries, checkpoints) is loaded with
``torch.load(weights_only=True)``: tensors, numbers, strings, lists and dicts only, so a file
crafted to run code on unpickling is refused instead of executed. Files are written with
ordinary permissions (``0o666`` minus the umask, i.e. ``0644`` usually).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from gan_regularizers.errors import StatisticsFileError
from gan_regularizers.files.atomic import atomic_write


def atomic_torch_save(payload: Any, path: str | os.PathLike[str]) -> Path:
    """``torch.save`` to ``path`` atomically (see ``gan_regularizers.files.atomic``)."""
    return atomic_write(path, lambda file: torch.save(payload, file))


def checked_torch_load(
    path: str | os.PathLike[str],
    expected_format: str,
    *,
    error: type[Exception] = StatisticsFileError,
    noun: str = "statistics file",
    advice: str = "Delete it and fit the statistics again.",
) -> dict[str, Any]:
    """Load a dict written by ``atomic_torch_save``, with ``weights_only=True``.

    Args:
        path: the file.
        expected_format: the value its ``"format"`` entry must have.
        error: the exception class raised for every problem (e.g. a checkpoint error).
        noun: what the file should be, for the messages (``"training checkpoint"``).
        advice: what to do about a truncated or unreadable file.

    Raises:
        error: no such file; not loadable (truncated, not a torch file, or a pickle that would
            run code); or a dict of another format.
    """
    source = Path(path)
    if not source.is_file():
        raise error(f"No {noun} at {source}. Check the path, or write the file first.")
    try:
        payload = torch.load(source, map_location="cpu", weights_only=True)
    except Exception as failure:
        raise error(
            f"{source} is truncated or not a gan-regularizers {noun} "
            f"({type(failure).__name__}: {failure}). {advice}"
        ) from failure
    if not isinstance(payload, dict) or payload.get("format") != expected_format:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise error(
            f"{source} is not a {expected_format} file (found format {found!r}). Pass a file "
            "written by gan-regularizers for this purpose."
        )
    return payload
