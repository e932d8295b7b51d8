"""Generated images from whatever the user has: a tensor, a loader, a sampler or a generator.

Every source yields ``(global sample indices, images)`` for this rank and says in
``FakeImages.describe`` how the samples were drawn. Under ``torch.distributed`` rank ``r``
takes samples ``r, r + W, …`` (tensors, generators) or batches ``r, r + W, …`` (samplers), so the
sample set is the one a single process would draw.

* a tensor ``N×C×H×W``: all of it, or ``num_samples`` rows drawn uniformly at random (seeded);
* a generator ``nn.Module``: ``G(z)`` with ``z = randn(num_samples, *latent_shape)`` drawn once
  from ``seed`` (independent of the batch size), in eval mode; ``latent_shape`` is given
  (``(100, 1, 1)`` for a B×nz×1×1 DCGAN) or read from the module's ``z_dim``;
* a callable ``sample(n) -> images``: called per batch ``b`` of ``batch_size`` under
  ``torch.manual_seed(seed·1,000,003 + b)``, so it is reproducible for a given batch size;
* an iterable / ``DataLoader`` of images: the first ``num_samples`` images it yields (per rank).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn

from gan_regularizers.distributed import rank_and_world_size
from gan_regularizers.errors import MetricError


class FakeImages:
    """Base: ``n`` generated images, yielded per rank with their global indices."""

    n: int
    seed: int = 0
    batch_size: int = 64

    def indexed_batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        raise NotImplementedError

    def __iter__(self) -> Iterator[torch.Tensor]:
        for _, images in self.indexed_batches():
            yield images

    def first(self, count: int) -> torch.Tensor:
        """The first ``count`` samples on the CPU (every rank gets the same)."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        raise NotImplementedError

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")


def _check_count(n: int) -> None:
    if n < 2:
        raise MetricError(f"num_samples must be at least 2 generated images, got {n}.")


class GeneratedImages(FakeImages):
    """``n`` images ``G(z_i)`` from latents fixed by ``seed``, in eval mode, batch by batch.

    ``z_dim`` is the latent shape: an int (``B×z_dim`` latents) or a tuple (``(100, 1, 1)``).
    """

    def __init__(
        self,
        generator: nn.Module,
        n: int,
        z_dim: int | tuple[int, ...],
        seed: int = 0,
        batch_size: int = 64,
    ) -> None:
        _check_count(n)
        shape = (z_dim,) if isinstance(z_dim, int) else tuple(z_dim)
        self.generator, self.n, self.seed, self.batch_size = generator, n, seed, batch_size
        self.latent_shape = shape
        self.latents = torch.randn(n, *shape, generator=torch.Generator().manual_seed(seed))

    @property
    def device(self) -> torch.device:
        return next(iter(self.generator.parameters()), torch.empty(0)).device

    def _generate(self, latents: torch.Tensor) -> torch.Tensor:
        was_training = self.generator.training
        self.generator.eval()
        try:
            with torch.inference_mode():
                return self.generator(latents.to(self.device)).float()
        finally:
            self.generator.train(was_training)

    def indexed_batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        rank, world_size = rank_and_world_size()
        for chunk in torch.arange(rank, self.n, world_size).split(self.batch_size):
            yield chunk, self._generate(self.latents[chunk])

    def first(self, count: int) -> torch.Tensor:
        chunks = self.latents[: min(count, self.n)].split(self.batch_size)
        return torch.cat([self._generate(chunk).cpu() for chunk in chunks])

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "generator module",
            "latents": f"randn(n, *{list(self.latent_shape)})",
            "fake_seed": self.seed,
            "generator_mode": "eval",
        }


class TensorFakeImages(FakeImages):
    """Rows of an image tensor: all, or ``n`` drawn uniformly without replacement (seeded)."""

    def __init__(
        self, images: torch.Tensor, n: int | None, seed: int = 0, batch_size: int = 64
    ) -> None:
        from gan_regularizers.data.batches import subset_indices

        if images.dim() != 4:
            raise MetricError(f"fake images must be N×C×H×W, got shape {tuple(images.shape)}.")
        self.rows = subset_indices(images.shape[0], n, seed)
        self.images, self.n, self.seed, self.batch_size = images, len(self.rows), seed, batch_size
        _check_count(self.n)
        self.requested = n

    def indexed_batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        rank, world_size = rank_and_world_size()
        for chunk in torch.arange(rank, self.n, world_size).split(self.batch_size):
            yield chunk, self.images[self.rows[chunk]].float()

    def first(self, count: int) -> torch.Tensor:
        return self.images[self.rows[:count]].float().cpu()

    def describe(self) -> dict[str, Any]:
        subset = (
            "all rows"
            if self.requested is None or self.requested >= len(self.images)
            else (f"uniform random sample of {self.n} rows (seed {self.seed})")
        )
        return {"kind": "tensor", "rows": subset}

    @property
    def device(self) -> torch.device:
        return self.images.device


class SampledImages(FakeImages):
    """``sample(k) -> images`` called per batch under a seed derived from ``(seed, batch)``."""

    def __init__(
        self, sample: Callable[[int], torch.Tensor], n: int, seed: int = 0, batch_size: int = 64
    ) -> None:
        _check_count(n)
        self.sample, self.n, self.seed, self.batch_size = sample, n, seed, batch_size

    def _batch(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        start = index * self.batch_size
        count = min(self.batch_size, self.n - start)
        with torch.random.fork_rng():
            torch.manual_seed(self.seed * 1_000_003 + index)
            images = self.sample(count)
        if not isinstance(images, torch.Tensor) or images.shape[0] != count:
            raise MetricError(
                f"sample({count}) must return a tensor of {count} images, got "
                f"{getattr(images, 'shape', type(images).__name__)}."
            )
        return torch.arange(start, start + count), images.detach().float()

    def indexed_batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        rank, world_size = rank_and_world_size()
        batches = -(-self.n // self.batch_size)
        for index in range(rank, batches, world_size):
            yield self._batch(index)

    def first(self, count: int) -> torch.Tensor:
        parts, index = [], 0
        while sum(len(p) for p in parts) < min(count, self.n):
            parts.append(self._batch(index)[1].cpu())
            index += 1
        return torch.cat(parts)[:count]

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "sampler",
            "seeding": "manual_seed(seed*1000003 + batch)",
            "fake_seed": self.seed,
            "batch_size": self.batch_size,
        }


class IterableFakeImages(FakeImages):
    """The first ``n`` images an iterable or loader yields (each rank reads its own)."""

    def __init__(self, data: Any, n: int | None, batch_size: int = 64) -> None:
        self.data, self.batch_size, self.requested = data, batch_size, n
        self.n = n if n is not None else -1

    def indexed_batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        from gan_regularizers.data.batches import iterate_batches

        rank, world_size = rank_and_world_size()
        seen = 0
        for batch in iterate_batches(self.data, self.batch_size, self.requested):
            local = torch.arange(seen, seen + len(batch.images))
            seen += len(batch.images)
            yield local * world_size + rank, batch.images.float()
        if self.requested is None:
            self.n = seen * world_size  # an estimate under torch.distributed

    def first(self, count: int) -> torch.Tensor:
        parts: list[torch.Tensor] = []
        for _, images in self.indexed_batches():
            parts.append(images.cpu())
            if sum(len(p) for p in parts) >= count:
                break
        return torch.cat(parts)[:count]

    def describe(self) -> dict[str, Any]:
        return {"kind": "iterable", "rows": "the first images it yields"}


def as_fake_images(
    fake: Any,
    num_samples: int | None,
    seed: int,
    batch_size: int,
    latent_shape: int | tuple[int, ...] | None = None,
) -> FakeImages:
    """Wrap what the user passed as generated images (see the module docstring)."""
    if isinstance(fake, FakeImages):
        return fake
    if isinstance(fake, torch.Tensor):
        return TensorFakeImages(fake, num_samples, seed, batch_size)
    if isinstance(fake, nn.Module):
        shape = latent_shape if latent_shape is not None else getattr(fake, "z_dim", None)
        if shape is None:
            raise MetricError(
                f"{type(fake).__name__} has no z_dim: pass latent_shape=, e.g. "
                "latent_shape=(100, 1, 1) for a DCGAN taking B×100×1×1 latents."
            )
        return GeneratedImages(fake, num_samples or 5000, shape, seed, batch_size)
    if callable(fake) and not hasattr(fake, "__iter__"):
        return SampledImages(fake, num_samples or 5000, seed, batch_size)
    if hasattr(fake, "__iter__"):
        return IterableFakeImages(fake, num_samples, batch_size)
    raise MetricError(
        f"cannot read generated images from a {type(fake).__name__}: pass a tensor, a "
        "DataLoader or iterable of images, a callable sample(n) -> images, or a generator module."
    )
