"""The training configuration: one flat dataclass, read from TOML and overridden by keyword.

Precedence: defaults < TOML file < overrides (``train(..., steps=10)`` or ``--set steps=10`` on the
command line). Unknown keys and invalid values raise ``ConfigError`` naming the key, with the
closest known key when there is one. The paper's defaults: ``z_dim = 100``, Adam with
``lr = 2e-4`` and ``betas = (0.5, 0.999)``, batch 128. The keys in ``SCHEDULABLE_KEYS`` also take
a schedule written as a string (``g_lr = "cosine(2e-4, 0, 10000)"``, see docs/schedules.md).
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import json
import math
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from gan_regularizers.errors import ConfigError, SpecError
from gan_regularizers.schedules import Schedule, looks_like_schedule, parse_schedule


@dataclass
class TrainConfig:
    """Everything a training run depends on. See docs/training.md for each key."""

    data: str = "mnist5k"
    image_size: int = 32
    z_dim: int = 100
    architecture: str = "dcgan"
    num_classes: int | str = 0
    loss: str = "bce"
    regularizers: list[str] = field(default_factory=list)
    augment: str = ""
    ema_decay: float = 0.0
    ema_kimg: float = 0.0
    ema_rampup: float = 0.0
    steps: int = 10_000
    batch_size: int = 128
    g_lr: float = 2e-4
    d_lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    lazy_adam: bool = False
    seed: int = 0
    device: str = "auto"
    amp: str = "none"
    num_workers: int = 0
    fit_cache: bool = True
    fit_max_images: int = 0
    run_dir: str = ""
    log_every: int = 10
    sample_every: int = 500
    checkpoint_every: int = 500
    grid_size: int = 64
    quiet: bool = False
    tensorboard: bool = True
    check_consistency: bool = False
    dist_timeout_s: float = 600.0
    threads: int = 0
    plots: bool = True

    def __post_init__(self) -> None:
        for item in fields(self):
            setattr(self, item.name, _coerce(item.name, getattr(self, item.name)))
            _CHECKS.get(item.name, _no_check)(item.name, getattr(self, item.name))
        _check_ema(self)

    def to_dict(self) -> dict[str, Any]:
        """A plain dict of every key (lists copied)."""
        return dataclasses.asdict(self)

    def to_toml(self) -> str:
        """The config as TOML that ``load_config`` reads back to an equal config."""
        lines = ["# gan-regularizers training config (resolved: every key, defaults included)"]
        for key, value in self.to_dict().items():
            lines.append(f"{key} = {_toml_value(value)}")
        return "\n".join(lines) + "\n"


# Keys that may change when a run is resumed; the rest would break the bit-exact continuation.
RESUMABLE_KEYS = frozenset(
    {"steps", "device", "num_workers", "log_every", "sample_every", "checkpoint_every", "quiet",
     "tensorboard", "run_dir", "check_consistency", "dist_timeout_s", "g_lr", "d_lr", "threads",
     "plots"}
)  # fmt: skip


# Float keys that may also hold a schedule (kept as its canonical text, e.g. "linear(1, 0, 100)").
SCHEDULABLE_KEYS = frozenset({"g_lr", "d_lr", "beta1", "beta2", "ema_kimg"})


def _field_type(key: str) -> str:
    return {item.name: str(item.type) for item in fields(TrainConfig)}[key]


def _describe(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"


def _coerce(key: str, value: Any) -> Any:
    """Convert ``value`` (typed, or a string from the command line) to the type of ``key``."""
    kind = _field_type(key)
    if kind == "int | str":
        return _class_count(key, value)
    if kind == "list[str]":
        if isinstance(value, str):
            value = [value] if value else []
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise ConfigError(
                f"config key {key!r}: expected a list of strings like "
                f'["centroid:weight=0.1"], got {_describe(value)}.'
            )
        return list(value)
    if kind == "bool":
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
            return value.strip().lower() in ("true", "1")
        if not isinstance(value, bool):
            raise ConfigError(
                f"config key {key!r}: expected true or false, got {_describe(value)}."
            )
        return value
    if kind == "int":
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = int(value.replace("_", ""))
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"config key {key!r}: expected an integer, got {_describe(value)}.")
        return value
    if (
        kind == "float"
        and key in SCHEDULABLE_KEYS
        and (isinstance(value, Schedule) or looks_like_schedule(value))
    ):
        try:
            return repr(parse_schedule(value))
        except SpecError as error:
            raise ConfigError(f"config key {key!r}: {error}") from None
    if kind == "float":
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = float(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"config key {key!r}: expected a number, got {_describe(value)}.")
        if not math.isfinite(value):
            raise ConfigError(f"config key {key!r}: expected a finite number, got {value!r}.")
        return float(value)
    if not isinstance(value, str):
        raise ConfigError(f"config key {key!r}: expected a string, got {_describe(value)}.")
    return value


def _class_count(key: str, value: Any) -> int | str:
    """``num_classes``: an integer ≥ 0, or ``"auto"`` (the dataset's number of classes)."""
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    with contextlib.suppress(ValueError, TypeError):
        value = int(value) if isinstance(value, str) else value
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(
            f"config key {key!r}: expected an integer ≥ 0 (0: unconditional) or 'auto' (the "
            f"dataset's number of classes), got {_describe(value)}."
        )
    return value


def _no_check(key: str, value: Any) -> None:
    return None


def _at_least(minimum: int) -> Callable[[str, Any], None]:
    def check(key: str, value: Any) -> None:
        if value < minimum:
            raise ConfigError(f"config key {key!r}: expected an integer ≥ {minimum}, got {value}.")

    return check


def _one_of(*allowed: Any) -> Callable[[str, Any], None]:
    def check(key: str, value: Any) -> None:
        if value not in allowed:
            listed = ", ".join(repr(a) for a in allowed)
            raise ConfigError(f"config key {key!r}: expected one of {listed}, got {value!r}.")

    return check


def _schedulable(check: Callable[[str, Any], None]) -> Callable[[str, Any], None]:
    """``check`` on a number, or on both bounds of a schedule (a learning rate may reach 0)."""

    def checked(key: str, value: Any) -> None:
        if not isinstance(value, str):
            check(key, value)
            return
        for bound in parse_schedule(value).bounds():
            if check is _learning_rate and bound == 0:
                continue  # e.g. cosine(2e-4, 0, 10000): lr 0 only after the last step
            check(key, bound)

    return checked


def _check_ema(cfg: TrainConfig) -> None:
    """One EMA form at a time; ``ema_rampup`` only with ``ema_kimg``."""
    kimg = cfg.ema_kimg if isinstance(cfg.ema_kimg, float) else 1.0  # a schedule: on
    if cfg.ema_decay > 0 and kimg > 0:
        raise ConfigError(
            f"config keys 'ema_decay' ({cfg.ema_decay}) and 'ema_kimg' ({cfg.ema_kimg}) are both "
            "set; choose one: ema_decay (β per step, with a warm-up) or ema_kimg (StyleGAN's "
            "half-life in thousands of images, with ema_rampup). Set the other to 0."
        )
    if cfg.ema_rampup > 0 and kimg == 0:
        raise ConfigError(
            f"config key 'ema_rampup' ({cfg.ema_rampup}) caps ema_kimg's half-life, but "
            "ema_kimg is 0 (no EMA); set ema_kimg too (e.g. ema_kimg = 10, ema_rampup = 0.05)."
        )


def ema_enabled(cfg: TrainConfig) -> bool:
    """Whether the run keeps a G-EMA (``ema_decay > 0`` or ``ema_kimg`` set)."""
    return cfg.ema_decay > 0 or isinstance(cfg.ema_kimg, str) or cfg.ema_kimg > 0


def _non_negative(key: str, value: float) -> None:
    if not value >= 0:
        raise ConfigError(f"config key {key!r}: expected a number ≥ 0, got {value}.")


def _learning_rate(key: str, value: float) -> None:
    if not value > 0:
        raise ConfigError(f"config key {key!r}: the learning rate must be > 0, got {value}.")


def _beta(key: str, value: float) -> None:
    if not 0 <= value < 1:
        raise ConfigError(f"config key {key!r}: Adam's beta must lie in [0, 1), got {value}.")


def _device(key: str, value: str) -> None:
    base, _, index = value.partition(":")
    if base not in ("auto", "cpu", "cuda") or (index and (base != "cuda" or not index.isdigit())):
        raise ConfigError(
            f"config key {key!r}: expected 'auto', 'cpu', 'cuda' or 'cuda:N', got {value!r}."
        )


def _decay(key: str, value: float) -> None:
    if not 0 <= value < 1:
        raise ConfigError(
            f"config key {key!r}: the EMA decay must lie in [0, 1) (0 turns the EMA off; "
            f"StyleGAN uses 0.999), got {value}."
        )


def _positive(key: str, value: float) -> None:
    if not value > 0:
        raise ConfigError(f"config key {key!r}: expected a number of seconds > 0, got {value}.")


def _non_empty(key: str, value: str) -> None:
    if not value.strip():
        raise ConfigError(f"config key {key!r}: must not be empty.")


_CHECKS: dict[str, Callable[[str, Any], None]] = {
    "data": _non_empty,
    "loss": _non_empty,
    "architecture": _non_empty,
    "image_size": _at_least(1),
    "z_dim": _at_least(1),
    "steps": _at_least(1),
    "batch_size": _at_least(1),
    "g_lr": _schedulable(_learning_rate),
    "d_lr": _schedulable(_learning_rate),
    "beta1": _schedulable(_beta),
    "beta2": _schedulable(_beta),
    "ema_kimg": _schedulable(_non_negative),
    "ema_rampup": _non_negative,
    "seed": _at_least(0),
    "device": _device,
    "amp": _one_of("none", "bf16"),
    "num_workers": _at_least(0),
    "fit_max_images": _at_least(0),
    "log_every": _at_least(1),
    "sample_every": _at_least(1),
    "checkpoint_every": _at_least(1),
    "grid_size": _at_least(1),
    "dist_timeout_s": _positive,
    "ema_decay": _decay,
    "threads": _at_least(0),
}


def config_keys() -> list[str]:
    """Every config key, in declaration order."""
    return [item.name for item in fields(TrainConfig)]


def _check_keys(values: Mapping[str, Any], where: str) -> None:
    known = config_keys()
    for key in values:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"Unknown config key {key!r} {where}.{hint} Known keys: {', '.join(known)}."
            )


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The key/value table of a TOML (or JSON) config file, keys not yet checked."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist; pass an existing .toml file.")
    text = path.read_text(encoding="utf-8")
    try:
        values = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(
            f"config file {str(path)!r} is not valid TOML/JSON: {error}. Fix that line; see "
            "configs/mnist5k_demo.toml for the format (key = value, strings in quotes)."
        ) from error
    if not isinstance(values, dict):
        raise ConfigError(f"config file {str(path)!r} must hold a table of key = value pairs.")
    return values


def load_config(
    source: TrainConfig | Mapping[str, Any] | str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> TrainConfig:
    """Resolve a config from a file, a mapping or a config object, then apply ``overrides``.

    Args:
        source: a ``TrainConfig``, a mapping of keys, a path to a ``.toml`` file, or ``None``
            for the defaults.
        overrides: keys that replace the source's values; strings are converted to the key's
            type (``"10"`` → 10), as given on the command line.

    Raises:
        ConfigError: an unknown key or an invalid value (the message names it).
    """
    values: dict[str, Any] = {}
    if isinstance(source, TrainConfig):
        values = source.to_dict()
    elif isinstance(source, (str, Path)):
        values = read_config_file(source)
        _check_keys(values, f"in {str(source)!r}")
    elif isinstance(source, Mapping):
        values = dict(source)
        _check_keys(values, "in the config mapping")
    elif source is not None:
        raise ConfigError(
            f"config must be a TrainConfig, a mapping, a path to a TOML file or None, got "
            f"{type(source).__name__}."
        )
    overrides = dict(overrides or {})
    _check_keys(overrides, "in the overrides")
    values.update(overrides)
    return TrainConfig(**values)


def parse_assignment(text: str) -> tuple[str, str]:
    """``"steps=10"`` → ``("steps", "10")`` (a command-line ``--set``)."""
    key, equals, value = text.partition("=")
    if not equals or not key.strip():
        raise ConfigError(f"--set expects KEY=VALUE, got {text!r} (e.g. --set steps=1000).")
    return key.strip(), value


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)
