"""The torch.distributed helpers the package needs: the process group, ranks, reductions.

A process group is started from torchrun's environment (``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``) by ``process_group``, with NCCL for CUDA
devices and gloo for the CPU. Everything else here is a no-op outside torch.distributed, so the
same code runs in one process and in many. Ranks that hold no data take part in every collective
with zeros (``all_reduce_sum_or_none``): only the global totals decide errors.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

from gan_regularizers.errors import DistributedError

TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


def is_distributed() -> bool:
    """True inside an initialised process group with more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank_and_world_size() -> tuple[int, int]:
    """``(rank, world_size)``; ``(0, 1)`` outside torch.distributed."""
    if is_distributed():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main_process() -> bool:
    """True on rank 0, and outside torch.distributed: the one process that writes files."""
    return rank_and_world_size()[0] == 0


def shard_indices(count: int) -> range:
    """This rank's share of ``range(count)``: ``rank, rank + W, …`` (disjoint, no padding).

    Ranks ``≥ count`` get an empty range; together the ranks cover every index exactly once.
    """
    rank, world_size = rank_and_world_size()
    return range(rank, count, world_size)


def collective_device() -> torch.device:
    """The device collectives of the default group run on: the current GPU under NCCL."""
    if is_distributed() and dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum ``tensor`` over all ranks (in place on a copy); identity outside torch.distributed."""
    if not is_distributed():
        return tensor
    reduced = tensor.clone()
    dist.all_reduce(reduced, op=dist.ReduceOp.SUM)
    return reduced


def all_reduce_sum_or_none(tensor: torch.Tensor | None) -> torch.Tensor | None:
    """Sum over ranks where a rank that saw no data passes ``None`` and contributes zeros.

    The ranks first agree on the shape and dtype (from those that have data), so a rank with an
    empty shard learns them. Returns ``None`` on every rank when no rank had data.

    Raises:
        DistributedError: two ranks hold tensors of different shapes.
    """
    if not is_distributed():
        return tensor
    mine = None if tensor is None else (tuple(tensor.shape), str(tensor.dtype))
    every: list[tuple[tuple[int, ...], str] | None] = [None] * dist.get_world_size()
    dist.all_gather_object(every, mine)
    known = [(rank, shape) for rank, shape in enumerate(every) if shape is not None]
    if not known:
        return None
    if len({shape for _, shape in known}) > 1:
        listed = ", ".join(f"rank {rank}: {shape[0]} {shape[1]}" for rank, shape in known)
        raise DistributedError(
            f"the ranks computed sums of different shapes ({listed}); every rank must use the "
            "same feature space and options. Check that all ranks run the same command."
        )
    if tensor is None:
        shape, dtype_name = known[0][1]
        dtype = getattr(torch, dtype_name.removeprefix("torch."))
        tensor = torch.zeros(shape, dtype=dtype, device=collective_device())
    return all_reduce_sum(tensor)


def broadcast_object(value: object, source: int = 0) -> object:
    """Rank ``source``'s ``value`` on every rank; identity outside torch.distributed."""
    if not is_distributed():
        return value
    holder = [value]
    dist.broadcast_object_list(holder, src=source)
    return holder[0]


def all_gather_objects(value: object) -> list[object]:
    """Every rank's ``value``, in rank order; ``[value]`` outside torch.distributed."""
    if not is_distributed():
        return [value]
    every: list[object] = [None] * dist.get_world_size()
    dist.all_gather_object(every, value)
    return every


@dataclass(frozen=True)
class LaunchEnvironment:
    """Where this process sits in a torchrun launch."""

    rank: int
    world_size: int
    local_rank: int


def launch_environment() -> LaunchEnvironment | None:
    """torchrun's ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``, or ``None`` when not launched by it.

    Raises:
        DistributedError: some of torchrun's variables are set but not all, or not integers.
    """
    present = [name for name in TORCHRUN_VARIABLES if name in os.environ]
    if "WORLD_SIZE" not in os.environ and "RANK" not in os.environ:
        return None
    missing = [name for name in TORCHRUN_VARIABLES if name not in os.environ]
    if missing and not dist.is_initialized():
        raise DistributedError(
            f"torch.distributed environment incomplete: {', '.join(present)} set but "
            f"{', '.join(missing)} missing. Launch with torchrun (e.g. torchrun "
            "--nproc_per_node=2 -m gan_regularizers train ...), which sets them all, or unset "
            "RANK and WORLD_SIZE to run in one process."
        )
    try:
        rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        local_rank = int(os.environ.get("LOCAL_RANK", rank))
    except ValueError as error:
        raise DistributedError(
            f"torchrun's RANK, WORLD_SIZE and LOCAL_RANK must be integers ({error})."
        ) from None
    if not 0 <= rank < world_size:
        raise DistributedError(f"RANK={rank} is outside 0..WORLD_SIZE-1 (WORLD_SIZE={world_size}).")
    return LaunchEnvironment(rank, world_size, local_rank)


def device_for_rank(name: str, local_rank: int = 0, world_size: int = 1) -> torch.device:
    """The device a ``--device`` name means on this rank.

    ``"auto"`` is CUDA when available, else the CPU; CUDA that is not there is an error. Under
    torchrun (``world_size > 1``) ``"auto"`` and ``"cuda"`` mean ``cuda:LOCAL_RANK`` (one GPU per
    process), and a fixed ``"cuda:N"`` is refused: it would put every process on one GPU.
    """
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise DistributedError(
            f"{name!r} was asked for but CUDA is not available here. Use --device cpu (or auto)."
        )
    if world_size > 1 and name.startswith("cuda"):
        if name != "cuda":
            raise DistributedError(
                f"{name!r} would put all {world_size} processes on one GPU. Under torchrun use "
                "--device cuda (or auto): each process takes cuda:LOCAL_RANK."
            )
        return torch.device("cuda", local_rank)
    try:
        return torch.device(name)
    except RuntimeError as error:  # torch lists every device type it knows, mps to privateuseone
        raise DistributedError(
            f"--device {name!r} is not a device; use auto, cpu, cuda or cuda:N."
        ) from error


def command_device(name: str) -> torch.device:
    """The device ``name`` means for this process: the one place a ``--device`` is resolved.

    Inside a process group the caller started, the rank's ``LOCAL_RANK`` (else its rank) and the
    group's size are used; under torchrun its variables; otherwise this is rank 0 of 1. See
    ``device_for_rank`` for the rules.
    """
    if dist.is_available() and dist.is_initialized():
        world_size = dist.get_world_size()
        return device_for_rank(name, int(os.environ.get("LOCAL_RANK", dist.get_rank())), world_size)
    launch = launch_environment()
    if launch is None:
        return device_for_rank(name)
    return device_for_rank(name, launch.local_rank, launch.world_size)


def backend_for(device: torch.device) -> str:
    """``"nccl"`` for CUDA devices, ``"gloo"`` for the CPU."""
    return "nccl" if device.type == "cuda" else "gloo"


@dataclass(frozen=True)
class DistributedContext:
    """The process group a run works in: ``world_size == 1`` for a single process."""

    rank: int
    world_size: int
    local_rank: int
    created: bool

    @property
    def is_main(self) -> bool:
        return self.rank == 0


@contextmanager
def process_group(device: torch.device, timeout_s: float = 600.0) -> Iterator[DistributedContext]:
    """Join the torchrun launch this process belongs to, for the duration of the block.

    * an already initialised group (started by the caller) is used as it is, and left open;
    * under torchrun with ``WORLD_SIZE > 1``, ``init_process_group`` runs with NCCL for a CUDA
      ``device`` (after ``torch.cuda.set_device``) or gloo for the CPU, and a ``timeout_s``
      timeout on every collective; the group is destroyed when the block ends;
    * otherwise this is a single process (rank 0 of 1).

    Args:
        device: the device this rank computes on (``cuda:LOCAL_RANK`` under torchrun on GPUs).
        timeout_s: seconds a collective may wait for the other ranks before it fails.
    """
    if dist.is_available() and dist.is_initialized():
        rank, world_size = dist.get_rank(), dist.get_world_size()
        local_rank = int(os.environ.get("LOCAL_RANK", rank))
        yield DistributedContext(rank, world_size, local_rank, created=False)
        return
    launch = launch_environment()
    if launch is None or launch.world_size == 1:
        yield DistributedContext(0, 1, 0 if launch is None else launch.local_rank, created=False)
        return
    if not dist.is_available():
        raise DistributedError(
            "this PyTorch build has no torch.distributed; install a build with it to run under "
            "torchrun."
        )
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(
        backend=backend_for(device),
        init_method="env://",
        rank=launch.rank,
        world_size=launch.world_size,
        timeout=timedelta(seconds=timeout_s),
    )
    try:
        yield DistributedContext(launch.rank, launch.world_size, launch.local_rank, created=True)
    finally:
        dist.destroy_process_group()
