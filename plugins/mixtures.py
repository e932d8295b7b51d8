"""2-D Gaussian mixtures (the benchmark of Unrolled GAN and VEEGAN): the ``mixture`` dataset and
the ``mixture-coverage`` metric.

Mixtures (``MIXTURES``), in their own units:

* ``ring8``: 8 Gaussians evenly on a circle of radius 2, ``σ = 0.02``, divided by ``scale = 2.5``;
* ``grid25``: 25 Gaussians on a 5×5 grid of spacing 2 centred at 0, ``σ = 0.02``, divided by
  ``scale = 5``.

The dataset (``--data mixture:ring8``, ``mixture:grid25:num_points=N,seed=S``) gives point ``i``
the component ``k_i = i mod K`` (equal weights, exactly balanced) and the position
``x_i = (μ_{k_i} + σ ε_i) / scale`` with ``ε_i ~ N(0, I₂)`` (float64, seeded), as a ``2×1×1``
"image" in ``[-1, 1]`` (``image_size = 1``) labelled ``k_i``, so the per-class centroid gets the
components as its classes. The dataset carries its mixture (``dataset.mixture``).

The metric scales each generated point back (``x · scale``) and applies
``gan_regularizers.metrics.mode_coverage.mixture_coverage``: a sample is *high quality* when
``min_k ‖x · scale − μ_k‖ ≤ 3σ``; ``modes-covered`` counts the components nearest to at least
one high-quality sample; ``high-quality-fraction`` is the fraction of high-quality samples. It
knows the mixture from its option (``mixture-coverage:mixture=grid25``) or, without one, from
the real data it is scored against (the evaluation context's ``reference``, a ``mixture:…``
dataset), so ``metrics = ["mixture-coverage"]`` needs no option.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import DataLoader, Subset

from gan_regularizers.errors import DataSpecError, MetricError
from gan_regularizers.metrics.base import EvalContext, Metric
from gan_regularizers.metrics.result import MetricResult, Results
from gan_regularizers.plugin_system.hookspecs import Register, hookimpl

DEFAULT_POINTS = 10_000
THRESHOLD = 3.0  # high quality: within 3σ of the nearest centre


@dataclass(frozen=True)
class Mixture:
    """A 2-D Gaussian mixture: equal-weight components ``N(μ_k, σ² I)``, data divided by
    ``scale``.

    Attributes:
        name: ``ring8`` or ``grid25``.
        centres: ``K×2`` float64 component means ``μ_k``, in the mixture's own units.
        std: the components' standard deviation ``σ``, same units.
        scale: what the points are divided by so that they lie in ``[-1, 1]``.
    """

    name: str
    centres: torch.Tensor
    std: float
    scale: float

    @property
    def num_modes(self) -> int:
        return int(self.centres.shape[0])

    def describe(self) -> dict[str, Any]:
        """The mixture as plain data, for a result's protocol."""
        return {"name": self.name, "modes": self.num_modes, "std": self.std, "scale": self.scale,
                "centres": self.centres.tolist()}  # fmt: skip


def _mixtures() -> dict[str, Mixture]:
    from gan_regularizers.metrics.mode_coverage import grid_centres, ring_centres

    return {
        "ring8": Mixture("ring8", ring_centres(8, radius=2.0), std=0.02, scale=2.5),
        "grid25": Mixture("grid25", grid_centres(5, spacing=2.0), std=0.02, scale=5.0),
    }


MIXTURES = _mixtures()


def get_mixture(name: str, error: type[Exception] = DataSpecError) -> Mixture:
    """The mixture called ``name``; ``error`` listing the accepted names otherwise."""
    if name not in MIXTURES:
        raise error(
            f"unknown mixture {name!r}; expected one of {', '.join(MIXTURES)} (e.g. "
            "--data mixture:ring8, or mixture-coverage:mixture=grid25)."
        )
    return MIXTURES[name]


def _check_integer(what: str, value: Any, minimum: int, hint: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise DataSpecError(
            f"mixture: {what} must be an integer ≥ {minimum}, got {value!r}. {hint}"
        )
    return value


def sample_mixture(
    mixture: Mixture, num_points: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(points N×2 float64 in the mixture's units, components N int64)``.

    Component ``k_i = i mod K``; ``x_i = μ_{k_i} + σ ε_i`` with ``ε_i ~ N(0, I₂)`` drawn from
    ``torch.Generator().manual_seed(seed)``.
    """
    labels = torch.arange(num_points) % mixture.num_modes
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(num_points, 2, generator=generator, dtype=torch.float64)
    return mixture.centres[labels] + mixture.std * noise, labels


def mixture(name: str, num_points: int = DEFAULT_POINTS, seed: int = 0, image_size: int = 1) -> Any:
    """``num_points`` points of mixture ``name`` (``ring8``, ``grid25``) divided by its scale,
    as ``2×1×1`` images in ``[-1, 1]`` labelled by component (``x_i = (μ_k + σ ε_i) / scale``).
    """
    from gan_regularizers.data.tensors import TensorImages

    chosen = get_mixture(name)
    if image_size != 1:
        raise DataSpecError(
            f"mixture:{name}: the points are 2×1×1 'images', so image_size must be 1, got "
            f"{image_size!r}. Set image_size = 1 (train --image-size 1) with architecture mlp."
        )
    accepted = f"mixture:{name} accepts num_points (default {DEFAULT_POINTS:,}) and seed."
    _check_integer("num_points", num_points, chosen.num_modes, accepted)
    _check_integer("seed", seed, 0, accepted)
    points, labels = sample_mixture(chosen, num_points, seed)
    images = (points / chosen.scale).float().reshape(num_points, 2, 1, 1)
    dataset = TensorImages(images, labels, name=f"mixture:{name}")
    dataset.mixture = chosen  # type: ignore[attr-defined]
    dataset.evaluation_metrics = ("mixture-coverage",)  # type: ignore[attr-defined]
    # compare's neutral metric: scored against the known components, in no regularizer's space
    dataset.neutral_metric = "mixture-coverage"  # type: ignore[attr-defined]
    return dataset


def data_mixture(data: Any) -> Mixture | None:
    """The ``mixture`` a dataset declares (its ``centres``, ``std``, ``scale``), looking through
    ``Subset`` and ``DataLoader``; ``None`` when it declares none."""
    while data is not None:
        found = getattr(data, "mixture", None)
        if all(hasattr(found, key) for key in ("centres", "std", "scale")):
            return found
        data = data.dataset if isinstance(data, Subset | DataLoader) else None
    return None


class MixtureCoverageMetric(Metric):
    """Modes covered and the high-quality fraction of generated 2-D points (image metric).

    A generated point ``x`` (a ``2×1×1`` image in the data's scaled units) is *high quality*
    when ``d(x) = min_k ‖x · scale − μ_k‖ ≤ 3σ``; with ``n`` samples of which ``h`` are high
    quality:

    * ``modes-covered`` = ``|{argmin_k ‖x · scale − μ_k‖ : x high quality}|``, out of ``K``
      (a count: no interval);
    * ``high-quality-fraction`` = ``h / n``, with its 95 % Wilson score interval.

    Args:
        mixture: ``ring8`` or ``grid25``; ``None`` reads it from the real data the engine scores
            against (``EvalContext.reference``: a ``mixture:…`` dataset declares its mixture).
    """

    name = "mixture-coverage"

    def __init__(self, mixture: str | None = None) -> None:
        super().__init__(**({} if mixture is None else {"mixture": mixture}))
        self.mixture = None if mixture is None else get_mixture(mixture, MetricError)
        self._from_data: Mixture | None = None
        self._local_count = 0
        self.add_state("samples", [], dist_reduce_fx="cat")

    def reset(self) -> None:
        super().reset()
        self._local_count = 0

    def prepare(self, context: EvalContext) -> None:
        """Take the mixture from the real data (before any sample is generated)."""
        self._from_data = self._resolve(context)

    def update(
        self, values: torch.Tensor, *, real: bool = False, indices: torch.Tensor | None = None
    ) -> None:
        """Keep a batch of generated points (``B×2×1×1`` or ``B×2``); real ones are not used."""
        if real:
            return
        from gan_regularizers.metrics.image_metrics import _next_indices

        points = _as_points(values)
        if indices is None:
            indices = _next_indices(self, len(points))
        self.samples.append((indices.cpu(), points))  # type: ignore[attr-defined]

    def compute(self, context: EvalContext | None = None) -> Results:
        from gan_regularizers.metrics.image_metrics import _in_sample_order, wilson_interval
        from gan_regularizers.metrics.mode_coverage import mixture_coverage

        mixture = self._resolve(context or EvalContext()) or self._from_data
        if mixture is None:
            raise MetricError(_unknown_mixture(context))
        samples = _in_sample_order(self.samples) * mixture.scale  # type: ignore[attr-defined]
        coverage = mixture_coverage(samples, mixture.centres, mixture.std, THRESHOLD)
        n = int(samples.shape[0])
        protocol = {"mixture": mixture.describe(), "threshold": f"{THRESHOLD:g}σ = "
                    f"{THRESHOLD * mixture.std:g} (unscaled units)"}  # fmt: skip
        fraction = coverage.high_quality_fraction
        return Results({
            "modes-covered": MetricResult("modes-covered", float(coverage.covered), None, None,
                                          None, n, {**protocol, "interval": "none (a count)"}),
            "high-quality-fraction": MetricResult(
                "high-quality-fraction", fraction, *wilson_interval(fraction, n), None, n,
                {**protocol, "interval": "95% Wilson score interval (sampling interval)"}),
        })  # fmt: skip

    def _resolve(self, context: EvalContext) -> Mixture | None:
        """The option's mixture or the real data's; an error when they disagree."""
        declared = data_mixture(getattr(context, "reference", None))
        if self.mixture is not None and declared is not None and declared.name != self.mixture.name:
            raise MetricError(
                f"mixture-coverage:mixture={self.mixture.name} but the real data is the "
                f"{declared.name} mixture: drop the option, or score against "
                f"mixture:{self.mixture.name}."
            )
        return self.mixture or declared


def _as_points(values: torch.Tensor) -> torch.Tensor:
    """``B×2`` float64 points on the CPU from ``B×2×1×1`` (or ``B×2``) samples."""
    if values.dim() not in (2, 4) or values[0].numel() != 2:
        raise MetricError(
            f"mixture-coverage scores 2-D points, B×2×1×1 (or B×2), got shape "
            f"{tuple(values.shape)}: train the mixture with image_size = 1."
        )
    return values.detach().reshape(len(values), 2).double().cpu()


def _unknown_mixture(context: EvalContext | None) -> str:
    reference = getattr(context, "reference", None)
    seen = "no real data" if reference is None else f"real data {type(reference).__name__}"
    return (
        f"mixture-coverage does not know the mixture ({seen}, which declares none): score "
        f"against a mixture dataset (real='mixture:ring8') or name it, mixture-coverage:mixture="
        f"{'|'.join(MIXTURES)}."
    )


def coverage_metric(mixture: str | None = None) -> MixtureCoverageMetric:
    """``modes-covered`` and ``high-quality-fraction`` of 2-D samples (see the module doc)."""
    return MixtureCoverageMetric(mixture)


@hookimpl
def register_datasets(register: Register) -> None:
    """``mixture`` (``mixture:ring8``, ``mixture:grid25``)."""
    register("mixture", mixture)


@hookimpl
def register_metrics(register: Register) -> None:
    """``mixture-coverage`` (``modes-covered``, ``high-quality-fraction``)."""
    register("mixture-coverage", coverage_metric)
