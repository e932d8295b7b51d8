"""The centroid's options, written once: one frozen dataclass, its checks and the presets.

Everything that reads options (``CentroidLoss``'s signature handling, ``save``/``load``, the
cache key, the load-time checks) goes through ``CentroidOptions`` and the groups below, so
adding an option means adding one field.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from gan_regularizers.errors import InvalidOptionError

DEFAULT_MEMORY_BUDGET = 1 << 30  # bytes of float32 features kept to skip the second pass

PRESETS: dict[str, dict[str, Any]] = {
    "paper": {
        "feature_space": "vgg16",
        "feature_space_options": {"layer": "features.16", "pooling": "none"},
        "projection": None,
    },
    "released-code": {
        "feature_space": "vgg16",
        "feature_space_options": {"layer": "features.16", "pooling": "avg"},
        "projection": 2,
    },
}
RADII = ("mean", "quantile")
NORMALIZATIONS = ("none", "d_ref")


@dataclass(frozen=True)
class CentroidOptions:
    """Every option of ``CentroidLoss``, checked once.

    Attributes:
        weight: λ of eq. (4), ``≥ 0``.
        preset: ``None``, ``"paper"`` or ``"released-code"`` (fixes the space and projection).
        radius: ``"mean"`` (eq. 2) or ``"quantile"`` (the ``q``-quantile of real distances).
        q: the quantile, in ``(0, 1]``.
        centers: number of k-means centres (1 = the paper).
        per_class: one centre per label.
        warmup_steps: linear warm-up of λ over that many training steps (told by ``set_step``).
        every: the lazy period the training loop applies: the penalty runs on training steps
            ``1, 1 + every, …`` with weight ``λ·every``.
        memory_budget: bytes of float32 features ``fit`` may keep to skip a second pass.
        kmeans_iterations, seed: Lloyd iterations and k-means++ seed.
        progress: progress bars while fitting.
        projection: PCA dimension applied to the features (``None``: none).
        normalize: ``"none"`` (the paper: excess in feature units) or ``"d_ref"`` (excess
            divided by d_ref, so λ means the same in any space).
        adaptive: steer λ to hold the fraction of penalised samples at ``target``
            (``adaptive``), starting from ``weight``.
        target: the fraction of penalised generated samples the adaptive λ holds, in ``[0, 1]``.
        rate_kimg: thousands of images for the adaptive λ to move by its starting value.
    """

    weight: float = 0.1
    preset: str | None = None
    radius: str = "mean"
    q: float = 0.9
    centers: int = 1
    per_class: bool = False
    warmup_steps: int = 0
    every: int = 1
    memory_budget: int = DEFAULT_MEMORY_BUDGET
    kmeans_iterations: int = 20
    seed: int = 0
    progress: bool = True
    projection: int | None = None
    normalize: str = "none"
    adaptive: bool = False
    target: float = 0.5
    rate_kimg: float = 10.0

    def __post_init__(self) -> None:
        _check_numbers(self)
        _check_choices(self)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """Every option's name, in declaration order."""
        return tuple(field.name for field in fields(cls))

    @classmethod
    def split(cls, options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """``options`` divided into centroid options and the rest (feature-space options)."""
        own = {k: v for k, v in options.items() if k in cls.names()}
        return own, {k: v for k, v in options.items() if k not in own}

    def statistics_options(self) -> dict[str, Any]:
        """The options that change the fitted statistics (cache key; checked on load)."""
        return {name: getattr(self, name) for name in STATISTICS_OPTIONS}

    def file_options(self) -> dict[str, Any]:
        """The options a statistics file records (all but the run-time ones)."""
        return {k: v for k, v in asdict(self).items() if k not in RUNTIME_OPTIONS}

    def updated(self, **changes: Any) -> CentroidOptions:
        """A checked copy with ``changes`` applied."""
        return replace(self, **changes)


STATISTICS_OPTIONS = (
    "preset",
    "radius",
    "q",
    "centers",
    "per_class",
    "projection",
    "kmeans_iterations",
    "seed",
)
RUNTIME_OPTIONS = ("memory_budget", "progress")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_numbers(options: CentroidOptions) -> None:
    weight = options.weight
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight >= 0:
        raise InvalidOptionError(f"weight must be a number ≥ 0, got {weight!r}.")
    if not isinstance(options.q, (int, float)) or not 0.0 < options.q <= 1.0:
        raise InvalidOptionError(f"q must be in (0, 1], got {options.q!r}.")
    positive = {"centers": options.centers, "every": options.every}
    for name, value in positive.items():
        if not _is_int(value) or value < 1:
            raise InvalidOptionError(f"{name} must be a positive integer, got {value!r}.")
    at_least_zero = {
        "warmup_steps": options.warmup_steps,
        "memory_budget": options.memory_budget,
        "kmeans_iterations": options.kmeans_iterations,
    }
    for name, value in at_least_zero.items():
        if not _is_int(value) or value < 0:
            raise InvalidOptionError(f"{name} must be an integer ≥ 0, got {value!r}.")
    _check_adaptive(options)
    projection = options.projection
    if projection is not None and (not _is_int(projection) or projection < 1):
        raise InvalidOptionError(
            f"projection must be a positive integer or None, got {projection!r}."
        )


def _check_adaptive(options: CentroidOptions) -> None:
    target, rate = options.target, options.rate_kimg
    if isinstance(target, bool) or not isinstance(target, (int, float)) or not 0 <= target <= 1:
        raise InvalidOptionError(
            f"target must be a fraction of penalised samples in [0, 1], got {target!r}; "
            "e.g. centroid:adaptive=true,target=0.3."
        )
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not rate > 0:
        raise InvalidOptionError(f"rate_kimg must be a number > 0, got {rate!r}.")
    if options.adaptive and not options.weight > 0:
        raise InvalidOptionError(
            "adaptive=true starts λ at weight and moves it by weight per rate_kimg thousand "
            f"images, so weight must be > 0, got {options.weight!r}; e.g. weight=0.1."
        )


def _check_choices(options: CentroidOptions) -> None:
    if options.radius not in RADII:
        raise InvalidOptionError(f"radius must be 'mean' or 'quantile', got {options.radius!r}.")
    if options.normalize not in NORMALIZATIONS:
        raise InvalidOptionError(
            f"normalize must be 'none' (the paper's excess) or 'd_ref' (excess / d_ref), got "
            f"{options.normalize!r}."
        )
    if options.per_class and options.centers != 1:
        raise InvalidOptionError("per_class=True sets one centre per label; leave centers=1.")
    if options.preset is None:
        return
    if options.preset not in PRESETS:
        raise InvalidOptionError(
            f"Unknown preset {options.preset!r}; choose one of {', '.join(PRESETS)}."
        )
    fixed = PRESETS[options.preset]["projection"]
    if options.projection != fixed:
        raise InvalidOptionError(
            f"preset {options.preset!r} fixes projection={fixed!r}; "
            "remove projection= or the preset."
        )
    if options.normalize != "none":
        raise InvalidOptionError(
            f"preset {options.preset!r} keeps the paper's raw excess (normalize='none'); remove "
            "normalize= or the preset."
        )


def resolve_preset(
    feature_space: Any, options: dict[str, Any], space_options: dict[str, Any]
) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """Apply ``options["preset"]``: its feature space, space options and projection.

    Returns:
        ``(feature_space, options, space_options)`` with the preset's values filled in.
    """
    preset = options.get("preset")
    if preset is None:
        return feature_space, options, space_options
    if preset not in PRESETS:
        raise InvalidOptionError(f"Unknown preset {preset!r}; choose one of {', '.join(PRESETS)}.")
    chosen = PRESETS[preset]
    if feature_space != chosen["feature_space"]:
        raise InvalidOptionError(
            f"preset {preset!r} fixes feature_space={chosen['feature_space']!r}; remove "
            f"feature_space={feature_space!r} or the preset."
        )
    clash = set(space_options) & set(chosen["feature_space_options"])
    if clash:
        raise InvalidOptionError(
            f"preset {preset!r} fixes {', '.join(sorted(clash))}; remove them or the preset."
        )
    options = {"projection": chosen["projection"], **options}
    return feature_space, options, {**chosen["feature_space_options"], **space_options}
