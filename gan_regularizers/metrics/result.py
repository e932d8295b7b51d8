"""The one result type of every metric: a value, its 95 % interval, the sample sizes, a protocol.

An interval is a *sampling* interval: it covers the variability of the number from the finite
sets of generated and real images measured, for one trained generator. It says nothing about the
variability between training runs (seeds); aggregate several seeds with
``gan_regularizers.metrics.seed_summary``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

SAMPLING_CAVEAT = (
    "intervals are sampling intervals of one trained generator (finite image sets), not "
    "intervals over training seeds; compare setups over several seeds with seed_summary"
)


@dataclass
class MetricResult:
    """A metric's value with its 95 % interval and how it was measured.

    Attributes:
        name: the metric (``"fd:vgg16"``, ``"kid"``, ``"precision"``, …).
        value: the number.
        low, high: the 95 % sampling interval, ``None`` when none could be computed.
        n_real, n_fake: the number of real and generated images (or features) it used.
        protocol: everything that can change the number (feature space descriptor, seeds,
            options, the interval's method under ``"interval"``).
    """

    name: str
    value: float
    low: float | None = None
    high: float | None = None
    n_real: int | None = None
    n_fake: int | None = None
    protocol: dict[str, Any] = field(default_factory=dict)

    @property
    def interval(self) -> tuple[float | None, float | None]:
        """``(low, high)``."""
        return self.low, self.high

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> MetricResult:
        return cls(**payload)

    def __str__(self) -> str:
        if self.low is None or self.high is None:
            return f"{self.name}: {self.value:.6g}"
        return f"{self.name}: {self.value:.6g} [{self.low:.6g}, {self.high:.6g}]"


@dataclass
class PrecisionRecall:
    """Precision and recall (Kynkäänniemi et al. 2019), each a ``MetricResult``."""

    precision: MetricResult
    recall: MetricResult

    def results(self) -> dict[str, MetricResult]:
        return {"precision": self.precision, "recall": self.recall}


@dataclass
class DensityCoverage:
    """Density and coverage (Naeem et al. 2020), each a ``MetricResult``."""

    density: MetricResult
    coverage: MetricResult

    def results(self) -> dict[str, MetricResult]:
        return {"density": self.density, "coverage": self.coverage}


class Results(dict[str, MetricResult]):
    """A metric's results by name; attribute access too (``results.precision``), and a
    one-result metric reads as its result (``fd.compute().value``)."""

    def __getattr__(self, name: str) -> Any:
        for key in (name, name.replace("_", "-")):
            if key in self:
                return self[key]
        if len(self) == 1:
            return getattr(next(iter(self.values())), name)
        raise AttributeError(
            f"these results are {', '.join(self) or 'empty'}; pick one, e.g. results[{name!r}]."
        )

    def results(self) -> dict[str, MetricResult]:
        """The results as a plain dict."""
        return dict(self)
