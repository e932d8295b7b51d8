"""DistributedDataParallel for the training loop: wrapping, per-rank seeds, buffer averaging.

* G and D are wrapped in ``DistributedDataParallel`` (``find_unused_parameters=False``: every
  parameter takes part in each forward; no buffer broadcast before each forward: see below).
  DDP broadcasts rank 0's parameters and buffers once, when it wraps the module. DDP averages
  the gradients over ranks during ``backward``, so every rank takes the same optimiser step.
* In the generator step, D is called through ``D.module`` (the plain module) with its
  parameters frozen: gradients flow through D to the fakes and into G's DDP graph, while D's DDP
  reducer sees no second backward it would wait for (see docs/distributed.md).
* BatchNorm running statistics are updated by each rank on its own slice of the batch; after
  every step ``average_buffers`` replaces them by their mean over the ranks, so parameters
  *and* buffers are identical on every rank after each step (which the consistency check
  verifies and a checkpoint written by rank 0 relies on).
"""

from __future__ import annotations

import inspect

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel


def rank_seed(seed: int, rank: int) -> int:
    """The seed of rank ``rank``'s own random streams (latents, torch, numpy, python).

    Rank 0 keeps ``seed`` (so a single process is unchanged); other ranks get a seed derived
    from ``(seed, rank)`` by numpy's ``SeedSequence``, so runs with seeds 0 and 1 do not share
    streams the way ``seed + rank`` would.
    """
    if rank == 0:
        return seed
    state = np.random.SeedSequence([seed, rank]).generate_state(2, dtype=np.uint32)
    return int(state[0]) << 31 | int(state[1]) >> 1


def wrap(module: nn.Module, device: torch.device, world_size: int) -> nn.Module:
    """``DistributedDataParallel(module)`` when ``world_size > 1``, else the module itself.

    DDP broadcasts rank 0's parameters and buffers when it is built, so the ranks start equal.
    """
    if world_size == 1:
        return module
    parameters = inspect.signature(DistributedDataParallel.__init__).parameters
    no_buffer_sync = (  # newer PyTorch renamed broadcast_buffers to forward_sync_buffers
        {"forward_sync_buffers": False}
        if "forward_sync_buffers" in parameters
        else {"broadcast_buffers": False}
    )
    return DistributedDataParallel(
        module,
        device_ids=[device] if device.type == "cuda" else None,
        find_unused_parameters=False,
        **no_buffer_sync,
    )


def unwrap(module: nn.Module) -> nn.Module:
    """The plain module inside a DDP wrapper (or the module itself)."""
    return module.module if isinstance(module, DistributedDataParallel) else module


def average_buffers(module: nn.Module, world_size: int) -> None:
    """Replace every floating-point buffer by its mean over the ranks (one all-reduce per dtype).

    Integer buffers (BatchNorm's ``num_batches_tracked``) advance identically on every rank and
    are left as they are.
    """
    if world_size == 1:
        return
    groups: dict[tuple[torch.dtype, torch.device], list[torch.Tensor]] = {}
    for buffer in unwrap(module).buffers():
        if buffer.is_floating_point():
            groups.setdefault((buffer.dtype, buffer.device), []).append(buffer)
    for buffers in groups.values():
        flat = torch.cat([b.detach().reshape(-1) for b in buffers])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        flat /= world_size
        offset = 0
        for buffer in buffers:
            size = buffer.numel()
            buffer.detach().copy_(flat[offset : offset + size].view_as(buffer))
            offset += size


def mean_over_ranks(values: torch.Tensor, world_size: int) -> torch.Tensor:
    """The mean of a small float tensor over the ranks (NaN/Inf anywhere stays non-finite)."""
    if world_size == 1:
        return values
    reduced = values.detach().clone()
    dist.all_reduce(reduced, op=dist.ReduceOp.SUM)
    return reduced / world_size
