"""Sub-commands of the gan-regularizers command line, one module each, and what they share."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """``torch.set_num_threads(count)`` for the duration of the block (nothing when ``None``).

    On a few shared CPU cores one thread is often several times faster than torch's default of
    one thread per core, so every command takes ``--threads N``.

    Raises:
        ConfigError: ``count`` is smaller than 1.
    """
    if count is None:
        yield
        return
    if count < 1:
        from gan_regularizers.errors import ConfigError

        raise ConfigError(f"--threads must be a positive integer, got {count}. Try --threads 1.")
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
