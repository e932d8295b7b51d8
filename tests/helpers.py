"""Helpers shared by the tests (the one copy of each: import them, do not write another).

- `free_port()`: a TCP port free on 127.0.0.1, for a process group's rendezvous;
- `gloo_group(rank, world_size, port)`: this process as one rank of a gloo group, for a block;
- `run_in_gloo_group(job, world_size, *args)`: `job(rank, *args)` in forked processes, each one
  rank of one gloo group (one CPU thread each).

Cache isolation is the `isolated_cache` fixture in conftest.py.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def free_port() -> int:
    """A TCP port that nothing listens on at 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gloo_group(rank: int, world_size: int, port: int, timeout_s: float = 60) -> Iterator[None]:
    """Join a gloo process group of ``world_size`` ranks at 127.0.0.1:``port``; leave it after."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group(
        "gloo", rank=rank, world_size=world_size, timeout=timedelta(seconds=timeout_s)
    )
    try:
        yield
    finally:
        dist.destroy_process_group()


def _rank_entry(
    rank: int, job: Callable[..., Any], world_size: int, port: int, args: tuple
) -> None:
    torch.set_num_threads(1)
    with gloo_group(rank, world_size, port):
        job(rank, *args)


def run_in_gloo_group(job: Callable[..., Any], world_size: int, *args: Any) -> None:
    """Run ``job(rank, *args)`` in ``world_size`` forked processes of one gloo group."""
    mp.start_processes(
        _rank_entry,
        args=(job, world_size, free_port(), args),
        nprocs=world_size,
        start_method="fork",
    )
