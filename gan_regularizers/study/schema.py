"""The study file (TOML): setups × seeds × lengths, scoring, comparisons and controls.

The schema (docs/studies.md) is the interface; ``load_study`` checks every key and returns a
``Study`` whose setups are resolved (``[base]`` updated by each ``[setups.NAME]``) and whose
controls are expanded (``<setup>@random`` for each setup with a feature-space regularizer).
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from gan_regularizers.errors import StudyFileError
from gan_regularizers.study.controls import random_control

TOP_KEYS = {
    "name",
    "title",
    "description",
    "notes",
    "seeds",
    "lengths",
    "base",
    "setups",
    "scoring",
    "comparisons",
    "controls",
    "resources",
}
SCORING_KEYS = {
    "metrics",
    "num_samples",
    "max_images",
    "seed",
    "pairs",
    "reference",
    "lower_is_better",
    "bounded",
}
COMPARISON_KEYS = {"setup", "baseline", "family", "metrics", "lengths"}
CONTROL_KEYS = {"random_feature_space"}
RESOURCE_KEYS = {"num_cpus", "num_gpus"}
# set by the study for every run: a setup may not choose them
STUDY_OWNED = {"seed", "steps", "run_dir", "quiet"}


@dataclass(frozen=True)
class Scoring:
    """How every run is scored: metrics of its EMA generator (or generator) against ``reference``.

    Attributes:
        metrics: metric specs, as ``gan_regularizers.metrics.evaluate`` takes them.
        num_samples: generated images scored.
        max_images: real images, a seeded uniform random sample (``None``: all).
        seed: latents and subsets.
        pairs: LPIPS pairs.
        reference: the real images, a data spec (``None``: each run's training ``data``).
        lower_is_better: metric names where lower is better, beyond the built-in ones.
        bounded: metric names bounded in [0, 1], beyond the built-in ones.
    """

    metrics: tuple[str, ...]
    num_samples: int = 1000
    max_images: int | None = 1000
    seed: int = 0
    pairs: int = 5000
    reference: str | None = None
    lower_is_better: tuple[str, ...] = ()
    bounded: tuple[str, ...] = ()

    def protocol(self) -> dict[str, Any]:
        """The settings that change the numbers (scores are reused only when they match)."""
        return {
            "metrics": list(self.metrics),
            "num_samples": self.num_samples,
            "max_images": self.max_images,
            "seed": self.seed,
            "pairs": self.pairs,
            "reference": self.reference,
        }


@dataclass(frozen=True)
class Comparison:
    """``setup`` − ``baseline``, paired by seed; Holm's correction runs within ``family``."""

    setup: str
    baseline: str
    family: str = "main"
    metrics: tuple[str, ...] | None = None
    lengths: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Study:
    """A parsed, checked study file."""

    name: str
    seeds: tuple[int, ...]
    lengths: tuple[int, ...]
    setups: dict[str, dict[str, Any]]
    scoring: Scoring
    comparisons: tuple[Comparison, ...]
    controls: dict[str, str] = field(default_factory=dict)  # control setup -> its original
    num_cpus: float = 1.0
    num_gpus: float = 0.0
    title: str = ""
    description: str = ""
    notes: str = ""
    source: Path | None = None


def _suggest(word: str, choices: set[str] | list[str]) -> str:
    close = [c for c in sorted(choices) if c.startswith(word)]
    close = close or difflib.get_close_matches(word, sorted(choices), n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def check_keys(table: dict[str, Any], allowed: set[str], where: str) -> None:
    """Raise ``StudyFileError`` on the first key of ``table`` not in ``allowed``."""
    for key in table:
        if key not in allowed:
            raise StudyFileError(
                f"{where}: unknown key {key!r}.{_suggest(key, allowed)} "
                f"Allowed: {', '.join(sorted(allowed))}."
            )


def _int_list(value: Any, key: str, minimum: int) -> tuple[int, ...]:
    ok = (
        isinstance(value, list)
        and value
        and all(isinstance(v, int) and not isinstance(v, bool) and v >= minimum for v in value)
    )
    if not ok:
        raise StudyFileError(
            f"{key} must be a non-empty list of integers ≥ {minimum}, got {value!r}; "
            f"e.g. {key} = [0, 1, 2]."
        )
    if len(set(value)) != len(value):
        raise StudyFileError(f"{key} lists a value twice: {value!r}.")
    return tuple(value)


def _train_keys() -> set[str]:
    from gan_regularizers.training.config import TrainConfig

    return {item.name for item in fields(TrainConfig)}


def _check_config(table: Any, where: str, train_keys: set[str]) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise StudyFileError(f"{where} must be a table of train config keys, got {table!r}.")
    for key in STUDY_OWNED & set(table):
        raise StudyFileError(
            f"{where}: {key!r} is set by the study for every run (seeds, lengths, --out); "
            "remove it."
        )
    check_keys(table, train_keys - STUDY_OWNED, where)
    return dict(table)


def _setups(raw: dict[str, Any], base: dict[str, Any], keys: set[str]) -> dict[str, dict]:
    if not isinstance(raw, dict) or not raw:
        raise StudyFileError("[setups] must hold at least one [setups.NAME] table.")
    out = {}
    for name, table in raw.items():
        if "@" in name:
            raise StudyFileError(f"setup name {name!r}: '@' is reserved for controls.")
        out[name] = {**base, **_check_config(table, f"[setups.{name}]", keys)}
    return out


def _scoring(raw: Any) -> Scoring:
    if not isinstance(raw, dict) or not raw.get("metrics"):
        raise StudyFileError(
            '[scoring] needs metrics = [...], e.g. metrics = ["fd:mnist-evaluator"].'
        )
    check_keys(raw, SCORING_KEYS, "[scoring]")
    metrics = raw["metrics"]
    if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics):
        raise StudyFileError(f"[scoring] metrics must be a list of metric specs, got {metrics!r}.")
    options = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
    return Scoring(**{**options, "metrics": tuple(metrics)})


def _comparisons(raw: Any, setups: dict[str, Any]) -> list[Comparison]:
    if not isinstance(raw, list):
        raise StudyFileError("comparisons must be [[comparisons]] tables.")
    out = []
    for index, table in enumerate(raw):
        where = f"[[comparisons]] #{index + 1}"
        check_keys(table, COMPARISON_KEYS, where)
        for key in ("setup", "baseline"):
            if key not in table:
                raise StudyFileError(f'{where}: needs {key} = "<setup name>".')
            if table[key] not in setups:
                raise StudyFileError(
                    f"{where}: {key} {table[key]!r} names no setup.{_suggest(table[key], setups)}"
                    f" Setups: {', '.join(setups)}."
                )
        options = {k: tuple(v) if isinstance(v, list) else v for k, v in table.items()}
        out.append(Comparison(**options))
    return out


def _controls(raw: Any, setups: dict[str, dict[str, Any]]) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise StudyFileError("[controls] must be a table, e.g. random_feature_space = true.")
    check_keys(raw, CONTROL_KEYS, "[controls]")
    if not raw.get("random_feature_space", False):
        return {}
    controls = {}
    for name, config in list(setups.items()):
        control = random_control(config)
        if control is not None:
            setups[f"{name}@random"] = control
            controls[f"{name}@random"] = name
    return controls


def control_comparisons(
    comparisons: list[Comparison], controls: dict[str, str]
) -> list[Comparison]:
    """For each control: the control against each baseline of its setup, and the setup against
    its control (does the pretrained space matter?), in the family of the setup's comparison."""
    out = []
    for control, setup in controls.items():
        own = [c for c in comparisons if c.setup == setup]
        out += [Comparison(control, c.baseline, c.family, c.metrics, c.lengths) for c in own]
        family = own[0].family if own else "controls"
        out.append(
            Comparison(
                setup, control, family, *(own[0].metrics, own[0].lengths) if own else (None, None)
            )
        )
    return out


def parse_study(raw: dict[str, Any], source: Path | None = None) -> Study:
    """A ``Study`` from the parsed TOML table ``raw`` (see the module doc)."""
    check_keys(raw, TOP_KEYS, "study file")
    for key in ("name", "seeds", "lengths", "setups", "scoring"):
        if key not in raw:
            raise StudyFileError(f"study file: the key {key!r} is missing (docs/studies.md).")
    keys = _train_keys()
    base = _check_config(raw.get("base", {}), "[base]", keys)
    setups = _setups(raw["setups"], base, keys)
    controls = _controls(raw.get("controls", {}), setups)
    comparisons = _comparisons(raw.get("comparisons", []), setups)
    comparisons += control_comparisons(comparisons, controls)
    resources = raw.get("resources", {})
    check_keys(resources, RESOURCE_KEYS, "[resources]")
    return Study(
        name=str(raw["name"]),
        seeds=_int_list(raw["seeds"], "seeds", 0),
        lengths=tuple(sorted(_int_list(raw["lengths"], "lengths", 1))),
        setups=setups,
        scoring=_scoring(raw["scoring"]),
        comparisons=tuple(comparisons),
        controls=controls,
        num_cpus=float(resources.get("num_cpus", 1)),
        num_gpus=float(resources.get("num_gpus", 0)),
        title=str(raw.get("title", "")),
        description=str(raw.get("description", "")),
        notes=_notes(raw.get("notes", ""), source),
        source=source,
    )


def _notes(value: str, source: Path | None) -> str:
    """``notes``: markdown text, or a ``.md`` file beside the study file."""
    if value.endswith(".md") and source is not None:
        path = source.parent / value
        if not path.is_file():
            raise StudyFileError(f"notes = {value!r}: no such file beside {source}.")
        return path.read_text().strip()
    return value.strip()


def load_study(path: str | Path) -> Study:
    """Read and check the study file at ``path``.

    Raises:
        StudyFileError: a missing or unknown key, a bad value, a comparison naming no setup.
    """
    path = Path(path)
    if not path.is_file():
        raise StudyFileError(f"no study file at {path}; write one (docs/studies.md).")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise StudyFileError(f"{path} is not valid TOML: {error}.") from error
    return parse_study(raw, path.resolve())
