"""The study file: every key checked, with errors that say what to write instead."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from study_helpers import write_study

from gan_regularizers.errors import ConfigError, GanRegularizersError
from gan_regularizers.study import StudyFileError, load_study
from gan_regularizers.study.controls import random_control, randomised_spec
from gan_regularizers.study.plan import plan_runs
from gan_regularizers.study.schema import parse_study
from gan_regularizers.study.sweeps import find_sweeps


def _raw(tmp_path: Path, **changes: object) -> dict:
    raw = tomllib.loads(write_study(tmp_path).read_text())
    raw.update(changes)
    return raw


def test_the_tiny_study_parses_with_its_control(tmp_path: Path) -> None:
    study = load_study(write_study(tmp_path))
    assert list(study.setups) == ["bce", "centroid", "centroid@random"]
    assert study.controls == {"centroid@random": "centroid"}
    assert study.setups["centroid"]["batch_size"] == 8  # [base] under each setup
    assert study.setups["centroid@random"]["regularizers"] == [
        "centroid:weight=0.5,feature_space=mnist-features,normalize=d_ref,pretrained=false"
    ]
    pairs = [(c.setup, c.baseline, c.family) for c in study.comparisons]
    assert pairs == [("centroid", "bce", "main"), ("centroid@random", "bce", "main"),
                     ("centroid", "centroid@random", "main")]  # fmt: skip


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"lenghts": [1]}, "unknown key 'lenghts'. Did you mean 'lengths'?"),
        ({"seeds": []}, "seeds must be a non-empty list of integers"),
        ({"seeds": [0, 0]}, "seeds lists a value twice"),
        ({"lengths": [0]}, "lengths must be a non-empty list of integers ≥ 1"),
        ({"setups": {"a": {"los": "bce"}}}, "[setups.a]: unknown key 'los'. Did you mean 'loss'?"),
        ({"setups": {"a": {"seed": 3}}}, "'seed' is set by the study"),
        ({"setups": {"a@b": {}}}, "'@' is reserved for controls"),
        ({"comparisons": [{"setup": "centroid", "baseline": "bse"}]},
         "baseline 'bse' names no setup. Did you mean 'bce'?"),
        ({"comparisons": [{"setup": "centroid"}]}, "needs baseline"),
        ({"scoring": {"metrics": []}}, "[scoring] needs metrics"),
        ({"scoring": {"metrics": ["fd"], "num_sample": 3}}, "Did you mean 'num_samples'?"),
        ({"controls": {"random": True}}, "Did you mean 'random_feature_space'?"),
        ({"resources": {"gpus": 1}}, "unknown key 'gpus'"),
    ],
)  # fmt: skip
def test_bad_study_files_are_refused_clearly(tmp_path: Path, change: dict, message: str) -> None:
    raw = _raw(tmp_path, **change)
    if "setups" in change and "comparisons" not in change:
        raw.pop("comparisons")
    with pytest.raises(StudyFileError) as caught:
        parse_study(raw)
    assert message in str(caught.value)
    assert isinstance(caught.value, ConfigError | GanRegularizersError)


def test_a_missing_file_and_bad_toml_are_refused(tmp_path: Path) -> None:
    with pytest.raises(StudyFileError, match="no study file"):
        load_study(tmp_path / "nope.toml")
    (tmp_path / "bad.toml").write_text("name = ")
    with pytest.raises(StudyFileError, match="not valid TOML"):
        load_study(tmp_path / "bad.toml")


def test_the_control_randomises_only_feature_space_regularizers() -> None:
    assert randomised_spec("r1:gamma=1") is None
    assert randomised_spec("centroid:feature_space=clip") == (
        "centroid:feature_space=clip,pretrained=false"
    )
    assert random_control({"regularizers": ["r1:gamma=1"]}) is None
    both = random_control({"regularizers": ["r1:gamma=1", "centroid:feature_space=dino"]})
    assert both == {"regularizers": ["r1:gamma=1", "centroid:feature_space=dino,pretrained=false"]}


def test_run_folders_are_keyed_by_the_digest_of_the_resolved_config(tmp_path: Path) -> None:
    study = load_study(write_study(tmp_path, lengths="[2, 4]"))
    runs = plan_runs(study, tmp_path / "out")
    assert len(runs) == 3 * 2 * 2 and len({r.folder for r in runs}) == 12
    chained = [r for r in runs if r.steps == 4]
    assert all(r.source is not None and r.source.steps == 2 for r in chained)
    again = plan_runs(load_study(write_study(tmp_path, lengths="[2, 4]")), tmp_path / "out")
    assert [r.digest for r in again] == [r.digest for r in runs]  # stable
    changed = _raw(tmp_path)
    changed["base"]["batch_size"] = 16
    other = plan_runs(parse_study(changed), tmp_path / "out")
    assert not {r.digest for r in other} & {r.digest for r in runs}


def test_sweeps_are_found_where_setups_differ_in_one_numeric_option() -> None:
    spec = "centroid:feature_space=f,weight={}"
    setups = {"bce": {"loss": "bce"}, "a": {"loss": "bce", "regularizers": [spec.format(0.5)]},
              "b": {"loss": "bce", "regularizers": [spec.format(2)]},
              "c": {"loss": "bce", "regularizers": [spec.format(8)]},
              "hinge": {"loss": "hinge", "regularizers": [spec.format(2)]}}  # fmt: skip
    assert find_sweeps(setups) == [("weight", [("bce", 0.0), ("a", 0.5), ("b", 2.0), ("c", 8.0)])]
