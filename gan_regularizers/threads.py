"""``threads``: the one implementation of the CPU-thread setting every command and ``train`` use.

``threads = 0`` (or ``None``) means torch's default (one thread per core); ``N ≥ 1`` sets
``torch.set_num_threads(N)`` for the block and restores the previous count after it. On a few
shared CPU cores one thread is often several times faster than torch's default.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from gan_regularizers.errors import ConfigError


@contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """``torch.set_num_threads(count)`` for the block; ``0`` or ``None``: torch's default.

    Raises:
        ConfigError: ``count`` is negative.
    """
    if count is not None and (isinstance(count, bool) or count < 0):
        raise ConfigError(
            f"threads must be an integer ≥ 0 (0: torch's default), got {count}. Try --threads 1."
        )
    if not count:
        yield
        return
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
