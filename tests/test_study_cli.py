"""The `study` command: status and report of stored results, one-line errors, rank agreement."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("scipy")
from gan_regularizers.cli import main
from gan_regularizers.study.tables import rank_agreement

ROOT = Path(__file__).resolve().parents[1]


def test_status_counts_the_stored_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["study", "status", str(ROOT / "experiments" / "curves")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("curves: 60 runs: 55 done, 0 failed, 5 pending")
    assert "bce+centroid-random: 15 done, 5 pending" in out
    assert main(["study", "status", str(ROOT / "experiments" / "curves"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total"] == {"done": 55, "pending": 5}


def test_a_missing_study_folder_is_one_line_that_says_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["study", "status", str(tmp_path)]) != 0
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "results.json does not exist" in err and "study run" in err
    assert main(["study", "run", str(tmp_path / "nope.toml"), "--out", str(tmp_path)]) != 0
    assert "no study file" in capsys.readouterr().err


def test_report_writes_a_page_of_one_study(tmp_path: Path) -> None:
    page = tmp_path / "mnist5k.md"
    source = str(ROOT / "experiments" / "mnist5k")
    assert main(["study", "report", source, "--page", str(page), "--no-images"]) == 0
    text = page.read_text()
    assert text.startswith("# mnist5k, first round")
    assert "Family `mnist5k`: 8 tests" in text


def test_rank_agreement_between_two_spaces_by_hand() -> None:
    # three setups ordered 1 < 2 < 3 in space a and 1 < 3 < 2 in space b: τ = (2 − 1) / 3
    values = {"x": (1.0, 1.0), "y": (2.0, 3.0), "z": (3.0, 2.0)}
    runs = {(s, 0, 10): {"status": "done", "metrics": {"fd:a": a, "fd:b": b}}
            for s, (a, b) in values.items()}  # fmt: skip
    lines = rank_agreement(runs, ["x", "y", "z"], ["fd:a", "fd:b"], 10)
    assert lines[2] == "| fd | fd:a | fd:b | 3 | +0.33 (the spaces disagree on the order) |"
