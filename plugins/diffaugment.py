"""Differentiable augmentation (Zhao et al., 2020, "DiffAugment") with an optional adaptive
probability (Karras et al., 2020, "ADA").

Policies, each drawn independently per sample:

* ``color``: brightness ``x + (u − 0.5)`` (a shift in ±0.5), saturation
  ``(x − mean_c x) · 2u + mean_c x`` (×[0, 2]), contrast ``(x − mean_chw x) · (u + 0.5) +
  mean_chw x`` (×[0.5, 1.5]), ``u ~ U[0, 1]``;
* ``translation``: a shift by an integer in ``[−⌊H/8 + ½⌋, ⌊H/8 + ½⌋]`` rows (and likewise
  columns), filling with zeros;
* ``cutout``: a square of ``⌊H/2 + ½⌋ × ⌊W/2 + ½⌋`` pixels set to zero, its centre anywhere in
  the image (so it may be clipped by the border).

Everything is differentiable with respect to the images. Random numbers come from torch's
global RNG (the training loop's seeding and checkpoints then make resume bit-exact) or from an
explicit ``generator``.

``adaptive=True``: each op is applied to a sample with probability ``p`` (a buffer, starting at
0). After each discriminator step the training loop calls ``update(real_logits)`` with that
step's detached real logits (its duty 4); every ``interval`` calls, with ``r_t = E[sign(D(x))]``
over those calls' real logits and ``n = batch · interval`` the number of real images they held
(summed over ranks), ``p ← clamp(p + sign(r_t − target) · n / (ada_kimg · 1000), 0, 1)``: ADA's
rule (StyleGAN2-ADA: every 4 D steps, target 0.6; ``p`` can go from 0 to 1 in ``ada_kimg``
thousand images). ``p``, the running sums and the call count are buffers, so checkpoints carry
them and a resume continues exactly; the loop logs ``diagnostics`` as ``diag/augment/p`` and
``diag/augment/r_t``.

``p=<number>`` (without ``adaptive``) applies each op with that fixed probability, and so makes
``p`` an option a schedule can drive (``diffaugment:p=cosine(0,0.55,76.8kimg)``, R3GAN's ramp;
the loop writes the schedule's value into the buffer before each step). With neither, every op
is always applied (``p = 1``, no per-sample draw) and ``update`` does nothing.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from gan_regularizers.checks.images import check_float_images
from gan_regularizers.distributed import all_reduce_sum
from gan_regularizers.errors import InvalidOptionError
from gan_regularizers.plugin_system.hookspecs import Register, hookimpl

POLICIES = ("color", "translation", "cutout")


def _uniform(images: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """One ``U[0, 1]`` number per sample, shaped ``B×1×1×1``."""
    shape = (images.shape[0], 1, 1, 1)
    return torch.rand(shape, generator=generator, device=images.device, dtype=images.dtype)


def _randint(
    low: int, high: int, images: torch.Tensor, generator: torch.Generator | None
) -> torch.Tensor:
    """One integer in ``[low, high)`` per sample, shaped ``B×1×1``."""
    size = (images.shape[0], 1, 1)
    return torch.randint(low, high, size, generator=generator, device=images.device)


def color(images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random brightness (±0.5), saturation (×[0, 2]) and contrast (×[0.5, 1.5]), per sample."""
    out = images + (_uniform(images, generator) - 0.5)
    mean = out.mean(dim=1, keepdim=True)
    out = (out - mean) * (_uniform(images, generator) * 2) + mean
    mean = out.mean(dim=(1, 2, 3), keepdim=True)
    return (out - mean) * (_uniform(images, generator) + 0.5) + mean


def _grid(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    batch, _, height, width = images.shape
    return torch.meshgrid(
        torch.arange(batch, device=images.device),
        torch.arange(height, device=images.device),
        torch.arange(width, device=images.device),
        indexing="ij",
    )


def translation(
    images: torch.Tensor, ratio: float = 0.125, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Shift each image by up to ``ratio`` of its size in each direction, filling with zeros."""
    _, _, height, width = images.shape
    shift_y, shift_x = int(height * ratio + 0.5), int(width * ratio + 0.5)
    dy = _randint(-shift_y, shift_y + 1, images, generator)
    dx = _randint(-shift_x, shift_x + 1, images, generator)
    index_b, index_y, index_x = _grid(images)
    # index into a copy padded by one zero pixel; out-of-range positions land on the padding
    index_y = torch.clamp(index_y + dy + 1, 0, height + 1)
    index_x = torch.clamp(index_x + dx + 1, 0, width + 1)
    padded = F.pad(images, [1, 1, 1, 1]).permute(0, 2, 3, 1)
    return padded[index_b, index_y, index_x].permute(0, 3, 1, 2).contiguous()


def cutout(
    images: torch.Tensor, ratio: float = 0.5, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Zero a square of ``ratio`` of the size, centred anywhere in each image."""
    _, _, height, width = images.shape
    size_y, size_x = int(height * ratio + 0.5), int(width * ratio + 0.5)
    centre_y = _randint(0, height + (1 - size_y % 2), images, generator)
    centre_x = _randint(0, width + (1 - size_x % 2), images, generator)
    _, index_y, index_x = _grid(images)
    offset_y = index_y - (centre_y - size_y // 2)
    offset_x = index_x - (centre_x - size_x // 2)
    in_square = (offset_y >= 0) & (offset_y < size_y) & (offset_x >= 0) & (offset_x < size_x)
    mask = (~in_square).to(images.dtype).unsqueeze(1)
    return images * mask


OPS = {"color": color, "translation": translation, "cutout": cutout}


def parse_policy(policy: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """``"color,translation"`` or ``["color", "translation"]`` → a checked tuple of op names."""
    names = policy.split(",") if isinstance(policy, str) else list(policy)
    names = [str(name).strip() for name in names if str(name).strip()]
    unknown = [name for name in names if name not in OPS]
    if unknown or not names:
        raise InvalidOptionError(
            f"diffaugment: policy {policy!r} "
            + (f"has unknown op(s) {', '.join(unknown)}" if unknown else "is empty")
            + f"; choose from {', '.join(POLICIES)}, e.g. policy=color,translation,cutout."
        )
    return tuple(names)


def diff_augment(
    images: torch.Tensor,
    policy: str | list[str] | tuple[str, ...] = POLICIES,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Apply every op of ``policy`` in order (each with its own per-sample randomness)."""
    for name in parse_policy(policy):
        images = OPS[name](images, generator=generator)
    return images


def _check_number(value: float, *, option: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidOptionError(f"diffaugment: {option} must be a number, got {value!r}.")
    if not low <= value <= high:
        raise InvalidOptionError(
            f"diffaugment: {option} must lie in [{low}, {high}], got {value!r}."
        )
    return float(value)


def _starting_p(adaptive: bool, initial_p: float, p: float | None) -> float:
    """``initial_p`` when adaptive, else the fixed ``p`` (1 when none is given)."""
    start = _check_number(initial_p, option="initial_p", low=0.0, high=1.0)
    if p is None:
        return start if adaptive else 1.0
    if adaptive:
        raise InvalidOptionError(
            "diffaugment: p and adaptive=true contradict each other: adaptive tunes p itself, "
            "starting from initial_p. Pass p=… alone for a fixed or scheduled probability, or "
            "adaptive=true with initial_p=…."
        )
    return _check_number(p, option="p", low=0.0, high=1.0)


class DiffAugment(nn.Module):
    """DiffAugment as a module; ``adaptive=True`` adds ADA's probability ``p`` (see the module).

    Args:
        policy: ops to apply in order, ``"color,translation,cutout"`` or a list.
        adaptive: apply each op with probability ``p``, tuned by ``update``.
        target: ADA's target for ``r_t = E[sign(D(x))]`` (0.6).
        ada_kimg: thousands of real images for ``p`` to move by 1 (ADA: 500).
        interval: ``update`` calls between adjustments of ``p`` (ADA: 4).
        initial_p: the starting ``p`` in adaptive mode.
        p: a fixed probability of each op (not adaptive; a schedule may drive it); ``None``:
            every op always.
        generator: an explicit RNG (on the images' device); default torch's global RNG.
    """

    def __init__(
        self,
        policy: str | list[str] | tuple[str, ...] = "color,translation,cutout",
        adaptive: bool = False,
        target: float = 0.6,
        ada_kimg: float = 500.0,
        interval: int = 4,
        initial_p: float = 0.0,
        p: float | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.policy = parse_policy(policy)
        if not isinstance(adaptive, bool):
            raise InvalidOptionError(
                f"diffaugment: adaptive must be true or false, got {adaptive!r}."
            )
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
            raise InvalidOptionError(
                f"diffaugment: interval must be an integer ≥ 1, got {interval!r}."
            )
        self.adaptive = adaptive
        self.target = _check_number(target, option="target", low=-1.0, high=1.0)
        self.ada_kimg = _check_number(ada_kimg, option="ada_kimg", low=1e-9, high=math.inf)
        self.interval = interval
        self.generator = generator
        self.register_buffer("p", torch.tensor(_starting_p(adaptive, initial_p, p)))
        self.per_sample = adaptive or p is not None  # draw whether each op applies
        self.register_buffer("sign_sum", torch.zeros((), dtype=torch.float64))
        self.register_buffer("sign_count", torch.zeros((), dtype=torch.float64))
        self.register_buffer("calls", torch.zeros((), dtype=torch.int64))
        self.register_buffer("last_r_t", torch.tensor(float("nan"), dtype=torch.float64))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``B×C×H×W`` → augmented ``B×C×H×W`` (differentiable)."""
        check_float_images(images, "diffaugment: the images")  # uint8 pixels: a clear error
        if images.dim() != 4:
            raise InvalidOptionError(
                f"diffaugment: expected a B×C×H×W batch, got shape {tuple(images.shape)}."
            )
        for name in self.policy:
            augmented = OPS[name](images, generator=self.generator)
            if self.per_sample:
                keep = _uniform(images, self.generator) >= self.p.to(images.dtype)
                augmented = torch.where(keep, images, augmented)
            images = augmented
        return images

    @torch.no_grad()
    def update(self, real_logits: torch.Tensor) -> None:
        """Accumulate ``sign(D(x))``; every ``interval`` calls, move ``p`` (adaptive mode only)."""
        if not self.adaptive:
            return
        signs = real_logits.detach().flatten().sign().to(torch.float64)
        totals = torch.stack(
            [
                signs.sum(),
                torch.tensor(float(signs.numel()), dtype=signs.dtype, device=signs.device),
            ]
        )
        totals = all_reduce_sum(totals).to(self.sign_sum.device)
        self.sign_sum.add_(totals[0])
        self.sign_count.add_(totals[1])
        self.calls.add_(1)
        if int(self.calls) % self.interval != 0:
            return
        r_t = self.sign_sum / self.sign_count
        step = torch.sign(r_t - self.target) * self.sign_count / (self.ada_kimg * 1000)
        self.p.copy_((self.p.to(torch.float64) + step).clamp(0.0, 1.0))
        self.last_r_t.copy_(r_t)
        self.sign_sum.zero_()
        self.sign_count.zero_()

    @property
    def diagnostics(self) -> dict[str, float]:
        """``p`` (and the last ``r_t`` in adaptive mode), for logging."""
        values = {"p": float(self.p)}
        if self.adaptive:
            values["r_t"] = float(self.last_r_t)
        return values

    def extra_repr(self) -> str:
        return f"policy={','.join(self.policy)!r}, adaptive={self.adaptive}"


@hookimpl
def register_augmentations(register: Register) -> None:
    register("diffaugment", DiffAugment)
