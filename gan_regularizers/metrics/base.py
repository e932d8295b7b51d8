"""The one metric model: ``Metric`` and ``FeatureSpaceMetric`` (torchmetrics style).

A metric declares its states with ``Metric.add_state`` (a default and how ranks combine it,
``dist_reduce_fx``), accumulates with ``update`` and turns the states into results with
``compute``; ``reset`` restores the defaults. Under ``torch.distributed`` ``compute`` first
combines every state across ranks (the one place that sync is written), computes, and puts the
local states back, so ``update`` can go on.

A feature-space metric (``FeatureSpaceMetric``) reads the features of one registered
feature space and says which statistics it needs (``needs``: ``"moments"``, float64 mean and
covariance, or ``"features"``, the rows themselves). Its state is a pair of
``FeatureCollector`` (real, generated), which the engine
(``gan_regularizers.metrics.evaluate``) shares between every metric of one space, so each
image set goes through each space once whatever the number of metrics. A metric on the images
themselves (``feature_space = None``) receives the generated batches in ``update``.

The engine calls exactly the members of
``gan_regularizers.plugin_system.contracts.Metric``: ``name``, ``spec``, ``feature_space``,
``space_options``, ``needs``, ``build_space``, ``bind``, ``prepare``, ``update``, ``compute``,
``reset`` and ``descriptor``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from gan_regularizers.distributed import all_gather_objects
from gan_regularizers.errors import MetricError
from gan_regularizers.files.statistics_files import module_descriptor
from gan_regularizers.metrics.collect import DEFAULT_MAX_FEATURES, FeatureCollector
from gan_regularizers.metrics.result import MetricResult, Results
from gan_regularizers.plugin_system.specs import format_spec

Reduction = str | Callable[[list[Any]], Any] | None
REDUCTIONS = ("sum", "cat", "min", "max")


@dataclass
class EvalContext:
    """What the engine passes to ``prepare`` and ``compute``: seeds, sizes, whether to compute
    intervals, and the real data scored against (``reference``: the dataset, tensor or loader as
    loaded, ``None`` outside the engine), for a metric that reads what the data declares (the
    ``mixture`` of a ``mixture:…`` dataset)."""

    seed: int = 0
    batch_size: int = 64
    pairs: int = 5000
    progress: bool = False
    intervals: bool = True
    reference: Any = None


def _reduce(values: list[Any], how: Reduction) -> Any:
    """Combine every rank's value of one state (rank order)."""
    if callable(how):
        return how(values)
    if how == "sum":
        return sum(values[1:], values[0])
    if how == "cat":
        if all(isinstance(v, list) for v in values):
            return [item for value in values for item in value]
        return torch.cat([torch.as_tensor(v) for v in values])
    if how in ("min", "max"):
        stacked = torch.stack([torch.as_tensor(v) for v in values])
        return stacked.amin(0) if how == "min" else stacked.amax(0)
    return values[0]


class Metric:
    """Base of every metric: declared states, ``update`` / ``compute`` / ``reset``, DDP sync.

    Subclasses set ``name``, declare states in ``__init__`` with ``add_state``, implement
    ``update(values, *, real, indices=None)`` and ``compute(context=None) -> Results`` (a dict of
    ``MetricResult`` by result name). ``compute`` sees every rank's states combined.
    """

    name: str = "metric"
    feature_space: str | None = None  # None: a metric on the images themselves
    needs: ClassVar[frozenset[str]] = frozenset()  # "real_images" for an image metric

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "compute" in cls.__dict__:  # sync before, restore after: written once, here
            cls.compute = _synced_compute(cls.__dict__["compute"])  # type: ignore[method-assign]

    def __init__(self, **options: Any) -> None:
        self.options: dict[str, Any] = dict(options)
        self.space_options: dict[str, Any] = {}
        self._defaults: dict[str, Any] = {}
        self._reductions: dict[str, Reduction] = {}

    def add_state(self, name: str, default: Any, dist_reduce_fx: Reduction = "sum") -> None:
        """Declare state ``name`` with its ``default`` and how ranks combine it.

        ``dist_reduce_fx``: ``"sum"``, ``"cat"`` (lists are concatenated, tensors ``torch.cat``),
        ``"min"``, ``"max"``, a callable ``f(list of every rank's value) -> value``, or ``None``
        (local only).
        """
        if not (dist_reduce_fx is None or callable(dist_reduce_fx) or dist_reduce_fx in REDUCTIONS):
            raise MetricError(
                f"{type(self).__name__}.add_state({name!r}): dist_reduce_fx must be one of "
                f"{', '.join(REDUCTIONS)}, a callable or None, got {dist_reduce_fx!r}."
            )
        self._defaults[name] = copy.deepcopy(default)
        self._reductions[name] = dist_reduce_fx
        setattr(self, name, copy.deepcopy(default))

    def reset(self) -> None:
        """Forget every update: each state back to its default."""
        for name, default in self._defaults.items():
            setattr(self, name, copy.deepcopy(default))

    @contextmanager
    def synced_states(self) -> Iterator[None]:
        """Every state combined across ranks inside the block, the local ones after it."""
        if getattr(self, "_synced", False):  # a subclass's compute calling its parent's
            yield
            return
        local = {name: getattr(self, name) for name in self._defaults}
        self._synced = True
        try:
            for name, how in self._reductions.items():
                if how is not None:
                    setattr(self, name, _reduce(all_gather_objects(local[name]), how))
            yield
        finally:
            self._synced = False
            for name, value in local.items():
                setattr(self, name, value)

    @property
    def spec(self) -> str:
        """The spec that builds this metric again (its name and every option)."""
        return format_spec(self.name, {**self.options, **self.space_options})

    def build_space(self) -> nn.Module | None:
        """The feature network this metric reads (``None`` for a metric on the images)."""
        return None

    def prepare(self, context: EvalContext) -> None:
        """Called by the engine before the first ``update`` with its settings (no-op here)."""

    def bind(self, real: FeatureCollector, fake: FeatureCollector, space: nn.Module) -> None:
        """Use shared collectors (a feature-space metric; an image metric ignores it)."""

    def update(
        self, values: torch.Tensor, *, real: bool = False, indices: torch.Tensor | None = None
    ) -> None:
        """Add a batch of images (or features); ``indices`` are their global sample numbers."""
        raise NotImplementedError

    def compute(self, context: EvalContext | None = None) -> Results:
        """Every result of this metric, by name."""
        raise NotImplementedError

    def descriptor(self) -> dict[str, Any]:
        """What identifies the networks behind the number (part of ``compare``'s reuse key)."""
        return {}


def _synced_compute(compute: Callable[..., Any]) -> Callable[..., Any]:
    def wrapped(self: Metric, context: EvalContext | None = None) -> Any:
        with self.synced_states():
            return compute(self, context or EvalContext())

    wrapped.__doc__, wrapped.__name__ = compute.__doc__, compute.__name__
    wrapped.__wrapped__ = compute  # type: ignore[attr-defined]
    return wrapped


def space_name(space: str | nn.Module | None) -> str | None:
    """A space's registered name, a module's descriptor name, or ``None`` (features given)."""
    if space is None or isinstance(space, str):
        return space
    descriptor = getattr(space, "descriptor", None) or {}
    return str(descriptor.get("feature_space", type(space).__name__))


class FeatureSpaceMetric(Metric):
    """A metric on the features of one feature space (``feature_space``).

    Args:
        feature_space: a registered feature space's name (built with ``space_options``), a
            module, or ``None`` when ``update`` receives features already (``N×d``).
        max_features: most feature rows kept per image set when ``needs`` holds
            ``"features"`` (a ``FeatureMemoryError`` beyond).
        **space_options: options of the feature space (``weights=PATH``, …).

    ``update(images, real=True/False)`` embeds a batch and adds it to the real or generated
    collector; ``compute`` reads ``self.real`` and ``self.fake``.
    """

    needs: ClassVar[frozenset[str]] = frozenset({"features"})

    def __init__(
        self,
        feature_space: str | nn.Module | None = "inception",
        *,
        max_features: int | None = DEFAULT_MAX_FEATURES,
        options: dict[str, Any] | None = None,
        **space_options: Any,
    ) -> None:
        super().__init__(**(options or {}))
        if "space" in space_options:
            raise MetricError(
                f"{self.name}: there is no option 'space'; the feature space is "
                f"feature_space= (e.g. {self.name}:feature_space=pixels, or {self.name}:pixels)."
            )
        if not (feature_space is None or isinstance(feature_space, str | nn.Module)):
            raise MetricError(
                f"{self.name}: feature_space must be a registered feature space's name, a "
                f"module or None, got {feature_space!r}."
            )
        self.feature_space = space_name(feature_space)
        self.space_options = dict(space_options)
        self._space = feature_space if isinstance(feature_space, nn.Module) else None
        self.max_features = max_features
        self.real = FeatureCollector("features" in self.needs, max_features, folds=False)
        self.fake = FeatureCollector("features" in self.needs, max_features)
        for collector in (self.real, self.fake):
            collector.keep_moments = "moments" in self.needs

    @property
    def spec(self) -> str:
        return format_spec(
            self.name, {"feature_space": self.feature_space, **self.options, **self.space_options}
        )

    @property
    def space(self) -> nn.Module | None:
        """The feature network, built on first use (``None`` when fed features)."""
        if self._space is None and self.feature_space is not None:
            self._space = self.build_space()
        return self._space

    def build_space(self) -> nn.Module:
        if self._space is not None:
            return self._space
        if self.feature_space is None:
            raise MetricError(
                f"{self.name} was built without a feature space (feature_space=None: it takes "
                "features); give feature_space='NAME' to score images."
            )
        from gan_regularizers.plugin_system.registry import get_feature_space

        return get_feature_space(self.feature_space, **self.space_options)

    def bind(self, real: FeatureCollector, fake: FeatureCollector, space: nn.Module) -> None:
        """Read the collectors the engine fills once for every metric of this space."""
        self.real, self.fake, self._space = real, fake, space

    def update(
        self, values: torch.Tensor, *, real: bool = False, indices: torch.Tensor | None = None
    ) -> None:
        """Embed a batch of images (or take features) and add it to one image set."""
        (self.real if real else self.fake).add(embed(self.space, values), indices)

    def reset(self) -> None:
        super().reset()
        self.real.reset()
        self.fake.reset()

    def descriptor(self) -> dict[str, Any]:
        return module_descriptor(self.space) if self.space is not None else {}

    def protocol(self) -> dict[str, Any]:
        """The feature space's descriptor, stored with every result."""
        return {"feature_space": self.descriptor() or None}

    def _finish(self, results: dict[str, MetricResult]) -> Results:
        for result in results.values():
            result.protocol = {**result.protocol, **self.protocol()}
        return Results(results)


def module_device(module: nn.Module) -> torch.device:
    """The device of a module's first parameter or buffer (CPU for a module with neither)."""
    for tensor in (*module.parameters(), *module.buffers()):
        return tensor.device
    return torch.device("cpu")


def embed(space: nn.Module | None, images: torch.Tensor) -> torch.Tensor:
    """``B×d`` features of a batch (the batch itself when ``space`` is ``None``)."""
    if space is None:
        return images.reshape(images.shape[0], -1)
    with torch.inference_mode():
        features = space(images.to(module_device(space)))
    return features.reshape(features.shape[0], -1)
