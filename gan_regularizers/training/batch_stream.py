"""A reproducible, resumable stream of training batches.

Epoch ``e`` visits the images in the order ``randperm(N)`` drawn from a generator seeded with
``seed · 1,000,003 + e``, in ``⌊N / B⌋`` batches of ``B`` (the last partial batch is dropped, as in
DCGAN). The position ``(epoch, batch)`` is all a checkpoint needs to continue the same stream.

Under torch.distributed every rank walks the same global stream and takes its own contiguous
slice of each global batch: rank ``r`` of ``W`` gets positions ``[r·B/W, (r+1)·B/W)``. The ranks'
slices are disjoint and together are exactly the single-process batch, and the position is the
same on every rank, so one checkpoint resumes them all (even with another world size).
"""

from __future__ import annotations

from collections.abc import Iterator
from operator import itemgetter

import torch
from torch.utils.data import DataLoader, Dataset

from gan_regularizers.errors import GanRegularizersError


class BatchStream:
    """Endless batches of images from ``dataset``; ``epoch`` and ``batch`` say where.

    Args:
        dataset: yields ``(image, label)``.
        batch_size: images per batch; must not exceed ``len(dataset)``.
        seed: seeds the order of every epoch.
        num_workers: DataLoader worker processes (0: load in the main process).
        rank, world_size: this process's slice of each global batch of ``batch_size``.
        labels: yield ``(images, labels)`` pairs instead of images (conditional training).
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        seed: int = 0,
        num_workers: int = 0,
        rank: int = 0,
        world_size: int = 1,
        labels: bool = False,
    ) -> None:
        self.dataset, self.labels = dataset, labels
        self.size = len(dataset)  # type: ignore[arg-type]
        if batch_size > self.size:
            raise GanRegularizersError(
                f"batch_size {batch_size} is larger than the dataset ({self.size} images). "
                f"Lower batch_size to at most {self.size}, or use more data."
            )
        if batch_size % world_size != 0:
            lower = batch_size - batch_size % world_size
            options = f"{lower} or {lower + world_size}" if lower else f"{world_size}"
            raise GanRegularizersError(
                f"batch_size {batch_size} is not divisible by the {world_size} processes: "
                f"batch_size is the global batch, split evenly across ranks. Use a multiple of "
                f"{world_size}, e.g. {options}."
            )
        self.batch_size, self.seed, self.num_workers = batch_size, seed, num_workers
        self.rank, self.world_size = rank, world_size
        self.local_batch_size = batch_size // world_size
        self.batches_per_epoch = self.size // batch_size
        self.epoch, self.batch = 0, 0

    def order(self, epoch: int) -> torch.Tensor:
        """The permutation of image indices for ``epoch``."""
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return torch.randperm(self.size, generator=generator)

    def state_dict(self) -> dict[str, int]:
        """Where the stream is: the next batch to yield."""
        return {"epoch": self.epoch, "batch": self.batch, "size": self.size, "seed": self.seed}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Continue from a saved position (the dataset must have the same size)."""
        if state["size"] != self.size:
            raise GanRegularizersError(
                f"the checkpoint was trained on {state['size']} images but the dataset now has "
                f"{self.size}; resume with the same data."
            )
        self.epoch, self.batch = int(state["epoch"]), int(state["batch"])

    def __iter__(self) -> Iterator[torch.Tensor | tuple[torch.Tensor, torch.Tensor]]:
        images = getattr(self.dataset, "images", None)
        labels = getattr(self.dataset, "labels", None)
        in_memory = isinstance(images, torch.Tensor) and self.num_workers == 0
        if self.labels and not isinstance(labels, torch.Tensor):
            in_memory = False
        while True:
            order = self.order(self.epoch)
            start = self.rank * self.local_batch_size
            batches = [
                order[i * self.batch_size : (i + 1) * self.batch_size][
                    start : start + self.local_batch_size
                ]
                for i in range(self.batch, self.batches_per_epoch)
            ]
            source: Iterator
            if in_memory and self.labels:
                source = ((images[i], labels[i]) for i in batches)  # type: ignore[index]
            elif in_memory:
                source = (images[indices] for indices in batches)  # type: ignore[index]
            else:
                loader = DataLoader(
                    self.dataset,
                    batch_sampler=[b.tolist() for b in batches],
                    num_workers=self.num_workers,
                )
                pick = (lambda item: (item[0], item[1].long())) if self.labels else itemgetter(0)
                source = (pick(item) for item in loader)
            for batch in source:
                self.batch += 1
                yield batch
            self.epoch, self.batch = self.epoch + 1, 0
