"""docs/leaderboard.md is what `study report` writes from the stored results of the leaderboard,
curves, mixtures, adaptive, r3gan and architectures studies; their stored comparisons recompute
from their own per-seed values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("scipy")
from gan_regularizers.study import report
from gan_regularizers.study.results import by_key, compare
from gan_regularizers.study.schema import load_study

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = ROOT / "experiments"
PAGE_STUDIES = ["leaderboard", "curves", "mixtures", "adaptive", "r3gan", "architectures"]


def test_the_leaderboard_page_is_the_report_of_the_stored_results(tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    kept_figures = ("leaderboard_grids.png", "mixtures_grids.png", "adaptive_grids.png",
                    "r3gan_grids.png", "architectures_grids.png")  # fmt: skip
    for kept in kept_figures:  # no run folders: kept figures
        (images / kept).write_bytes((ROOT / "docs" / "images" / kept).read_bytes())
    page = report([EXPERIMENTS / name for name in PAGE_STUDIES], tmp_path / "leaderboard.md",
                  title="Leaderboard", images=False,
                  notes=EXPERIMENTS / "leaderboard_notes.md")  # fmt: skip
    assert page.read_text() == (ROOT / "docs" / "leaderboard.md").read_text()


def test_the_page_holds_the_leaderboard_numbers_and_families() -> None:
    text = (ROOT / "docs" / "leaderboard.md").read_text()
    assert "| bce | 5 | 3.61 [3.23, 3.98] | 0.0249 [0.0196, 0.0303] |" in text
    assert "Family `main`: 75 tests" in text and "Family `curves`: 21 tests" in text
    assert "Family `mixtures`: 32 tests" in text and "Family `adaptive`: 70 tests" in text
    assert "Family `r3gan`: 30 tests" in text and "Family `architectures`: 15 tests" in text
    assert "| resnet-bce − dcgan-bce | 2400 | fd:mnist-evaluator | 5 | +3.96 |" in text
    assert "| r3gan − hinge | 1200 | fd:mnist-evaluator | 5 | -0.87 |" in text
    assert "| diffaugment − bce | 1200 | recall | 5 | -0.606 |" in text


@pytest.mark.parametrize(
    "name", ["leaderboard", "curves", "mnist5k", "adaptive", "r3gan", "architectures"]
)
def test_stored_comparisons_recompute_from_the_stored_runs(name: str) -> None:
    results = json.loads((EXPERIMENTS / name / "results.json").read_text())
    study = load_study(EXPERIMENTS / name / "study.toml")
    recomputed = compare(study, by_key(results["runs"]))
    assert len(recomputed) == len(results["comparisons"]) > 0
    for stored, again in zip(results["comparisons"], recomputed, strict=True):
        for key in ("setup", "baseline", "steps", "metric", "n", "verdict", "family_size"):
            assert stored[key] == again[key]
        for key in ("mean_difference", "p", "p_holm"):
            assert stored[key] == pytest.approx(again[key], rel=1e-12, abs=1e-15)


def test_every_stored_study_file_parses_and_matches_its_runs() -> None:
    from gan_regularizers.study.plan import plan_runs

    for name in [
        "leaderboard",
        "curves",
        "mnist5k",
        "celeba64",
        "tiny",
        "mixtures",
        "adaptive",
        "r3gan",
        "architectures",
    ]:
        study = load_study(EXPERIMENTS / name / "study.toml")
        stored = EXPERIMENTS / name / "results.json"
        if stored.is_file():
            digests = {r["digest"] for r in json.loads(stored.read_text())["runs"]}
            assert digests == {r.digest for r in plan_runs(study, EXPERIMENTS / name)}
