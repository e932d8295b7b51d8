"""The consistency check: every rank holds bit-identical parameters and buffers.

Rank 0's tensors are broadcast (one flat tensor per dtype and device) and compared bit by bit on
every rank; the names that differ are gathered, so every rank raises the same
``ConsistencyError``, naming the tensor and the ranks. Floating-point tensors are compared
as their bit patterns, so ``-0.0`` vs ``0.0`` and NaN payloads count as differences too.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.distributed as dist
from torch import nn

from gan_regularizers.errors import ConsistencyError

_BITS = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}


def named_state(modules: Mapping[str, nn.Module]) -> dict[str, torch.Tensor]:
    """``{"generator.net.0.weight": tensor, …}``: every parameter and buffer of ``modules``."""
    state: dict[str, torch.Tensor] = {}
    for prefix, module in modules.items():
        for name, tensor in [*module.named_parameters(), *module.named_buffers()]:
            state[f"{prefix}.{name}"] = tensor.detach()
    return state


def _bits(tensor: torch.Tensor) -> torch.Tensor:
    if tensor.dtype == torch.bool:
        return tensor.to(torch.uint8)
    if tensor.is_floating_point() or tensor.is_complex():
        return tensor.contiguous().view(_BITS[tensor.element_size()])
    return tensor


def check_consistency(modules: Mapping[str, nn.Module], step: int) -> None:
    """Raise ``ConsistencyError`` on every rank unless all ranks hold rank 0's tensors.

    Args:
        modules: ``{"generator": G, "discriminator": D, "regularizer[centroid]": r, …}`` (the
            plain modules, not their DDP wrappers).
        step: the step the check runs after (for the message).
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return
    state = named_state(modules)
    groups: dict[tuple[torch.dtype, torch.device], list[str]] = {}
    for name, tensor in state.items():
        bits = _bits(tensor)
        groups.setdefault((bits.dtype, bits.device), []).append(name)
    differing: dict[str, float] = {}
    for names in groups.values():
        mine = torch.cat([_bits(state[n]).reshape(-1) for n in names])
        reference = mine.clone()
        dist.broadcast(reference, src=0)
        if torch.equal(mine, reference):
            continue
        offset = 0
        for name in names:
            size = state[name].numel()
            if not torch.equal(mine[offset : offset + size], reference[offset : offset + size]):
                ours = state[name]
                theirs = reference[offset : offset + size].view(ours.dtype).view_as(ours)
                gap = (ours.double() - theirs.double()).abs().max() if ours.numel() else 0.0
                differing[name] = float(gap)
            offset += size
    reports: list[dict[str, float] | None] = [None] * dist.get_world_size()
    dist.all_gather_object(reports, differing)
    ranks_of: dict[str, list[int]] = {}
    gaps: dict[str, float] = {}
    for rank, report in enumerate(reports):
        for name, gap in (report or {}).items():
            ranks_of.setdefault(name, []).append(rank)
            gaps[name] = max(gaps.get(name, 0.0), gap)
    if not ranks_of:
        return
    listed = "; ".join(
        f"{name} on rank(s) {', '.join(map(str, ranks))} (max |difference| {gaps[name]:.3g})"
        for name, ranks in list(ranks_of.items())[:5]
    )
    more = f" and {len(ranks_of) - 5} more" if len(ranks_of) > 5 else ""
    raise ConsistencyError(
        f"consistency check after step {step}: {len(ranks_of)} tensor(s) differ from rank 0: "
        f"{listed}{more}. Every rank must hold identical parameters and "
        "buffers. Something changed one rank only: an update outside DDP, a regularizer with "
        "per-rank state, or nondeterministic kernels. Fix that, or set check_consistency = "
        "false to train anyway."
    )
