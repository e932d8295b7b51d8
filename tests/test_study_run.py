"""`study run` on the local engine: results, idempotence, chains, failures, recovery, verify."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from study_helpers import write_study

pytest.importorskip("scipy")
from gan_regularizers import study
from gan_regularizers.study import statistics


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny study (bce, centroid, centroid@random × seeds 0, 1 × 2 steps), run once."""
    folder = tmp_path_factory.mktemp("study")
    summary = study.run(write_study(folder), folder / "out", progress=False)
    assert summary["trained"] == 6 and summary["failed"] == 0
    return folder / "out"


def _results(out: Path) -> dict:
    return json.loads((out / "results.json").read_text())


def test_every_run_is_recorded_with_metrics_and_provenance(finished: Path) -> None:
    runs = _results(finished)["runs"]
    assert {(r["setup"], r["seed"], r["steps"]) for r in runs} == {
        (s, seed, 2) for s in ("bce", "centroid", "centroid@random") for seed in (0, 1)
    }
    for run in runs:
        assert run["status"] == "done"
        assert set(run["metrics"]) == {"fd:mnist-evaluator", "precision", "recall"}
        assert run["wall_seconds"] > 0
        assert (finished / run["run_folder"] / "checkpoint.pt").is_file() or any(
            (finished / run["run_folder"]).glob("*.pt")
        )
        origin = run["provenance"]
        assert origin["code"]["version"] and "torch" in origin["libraries"]
        assert origin["machine"]["cpu"] and origin["machine"]["threads"] == 1


def test_the_control_randomises_the_feature_space_and_is_compared(finished: Path) -> None:
    results = _results(finished)
    spec = results["setups"]["centroid@random"]["regularizers"][0]
    assert spec.endswith("pretrained=false") and "normalize=d_ref" in spec
    pairs = {(c["setup"], c["baseline"]) for c in results["comparisons"]}
    assert pairs == {("centroid", "bce"), ("centroid@random", "bce"),
                     ("centroid", "centroid@random")}  # fmt: skip


def test_paired_intervals_recompute_from_the_per_seed_values(finished: Path) -> None:
    from scipy import stats

    results = _results(finished)
    runs = {(r["setup"], r["seed"]): r["metrics"] for r in results["runs"]}
    for entry in results["comparisons"]:
        first = [runs[entry["setup"], s][entry["metric"]] for s in (0, 1)]
        second = [runs[entry["baseline"], s][entry["metric"]] for s in (0, 1)]
        diffs = [a - b for a, b in zip(first, second, strict=True)]  # fmt: skip
        mean = sum(diffs) / 2
        assert entry["n"] == 2 and entry["mean_difference"] == pytest.approx(mean, abs=1e-12)
        if diffs[0] != diffs[1]:
            half = stats.t.ppf(0.975, 1) * stats.tstd(diffs) / 2**0.5
            assert entry["interval"] == pytest.approx([mean - half, mean + half], abs=1e-9)
            expected = stats.ttest_rel(first, second).pvalue
            assert entry["p"] == pytest.approx(expected, rel=1e-9)  # fmt: skip
        assert entry["verdict"] == statistics.verdict(
            entry["mean_difference"], entry["p_holm"], entry["lower_is_better"]
        )


def test_rerunning_a_finished_study_trains_nothing(finished: Path) -> None:
    before = {p: p.stat().st_mtime_ns for p in finished.glob("runs/*/*/*.pt")}
    summary = study.run(finished / "study.toml", finished, progress=False)
    assert summary["trained"] == 0 and summary["failed"] == 0
    assert before and before == {p: p.stat().st_mtime_ns for p in finished.glob("runs/*/*/*.pt")}


def test_lost_results_are_recovered_from_the_run_folders(finished: Path, tmp_path: Path) -> None:
    copy = tmp_path / "out"
    shutil.copytree(finished, copy)
    (copy / "results.json").unlink()  # e.g. killed before the first write
    summary = study.run(copy / "study.toml", copy, progress=False)
    assert summary["trained"] == 0

    def kept(out: Path) -> dict:
        return {(r["setup"], r["seed"]): (r["metrics"], r["cumulative_train_seconds"])
                for r in _results(out)["runs"]}  # fmt: skip

    assert kept(copy) == kept(finished)


@pytest.mark.slow
def test_a_longer_length_resumes_the_shorter_run_bit_exactly(tmp_path: Path) -> None:
    (tmp_path / "chain").mkdir()
    (tmp_path / "fresh").mkdir()
    chain = write_study(tmp_path / "chain", lengths="[1, 3]", controls=False, seeds="[0]")
    fresh = write_study(tmp_path / "fresh", lengths="[3]", controls=False, seeds="[0]")
    study.run(chain, tmp_path / "chain" / "out", progress=False)
    study.run(fresh, tmp_path / "fresh" / "out", progress=False)
    chained = {(r["setup"], r["seed"]): r for r in _results(tmp_path / "chain" / "out")["runs"]
               if r["steps"] == 3}  # fmt: skip
    for run in _results(tmp_path / "fresh" / "out")["runs"]:
        assert chained[run["setup"], run["seed"]]["metrics"] == run["metrics"]  # bit-exact
        assert (
            chained[run["setup"], run["seed"]]["cumulative_train_seconds"]
            > (chained[run["setup"], run["seed"]]["train_seconds"])
        )


@pytest.mark.slow
def test_a_failed_run_is_recorded_and_retried_without_stopping_others(tmp_path: Path) -> None:
    broken = '\n[setups.broken]\nloss = "bce"\nregularizers = ["no-such-regularizer"]\n'
    path = write_study(tmp_path, controls=False, extra_setups=broken, seeds="[0]")
    summary = study.run(path, tmp_path / "out", progress=False)
    assert summary["failed"] == 1 and summary["trained"] == 2
    failed = [r for r in _results(tmp_path / "out")["runs"] if r["setup"] == "broken"]
    assert all(r["status"] == "failed" and "no-such-regularizer" in r["error"] for r in failed)
    assert all("\n" not in r["error"] for r in failed)
    status = study.status(tmp_path / "out")
    assert status["total"] == {"done": 2, "failed": 1}
    again = study.run(path, tmp_path / "out", progress=False)
    assert again["trained"] == 0 and again["failed"] == 1  # retried, failed again


@pytest.mark.slow
def test_verify_retrains_a_stored_run_bit_identically(finished: Path) -> None:
    (report,) = study.verify(finished, sample=1)
    assert report["status"] == "done" and report["same_machine_and_code"]
    assert report["bit_identical"] and report["max_abs_difference"] == 0.0


def test_the_report_has_tables_families_and_figures(finished: Path) -> None:
    page = study.report(finished)
    text = page.read_text()
    # centroid − bce, centroid@random − bce, centroid − centroid@random: 3 × 3 metrics
    assert "Family `main`: 9 tests" in text and "Holm's correction runs over these 9" in text
    assert "| centroid − centroid@random | 2 | fd:mnist-evaluator | 2 |" in text
    assert (finished / "images" / "tiny-test_seeds.png").is_file()
    assert "![tiny-test: grids](images/tiny-test_grids.png)" in text


@pytest.mark.slow
def test_an_outside_plugins_regularizer_runs_from_a_study_file_alone(
    example_plugin: Path, tmp_path: Path
) -> None:
    extra = '\n[setups.tv]\nloss = "bce"\nregularizers = ["total-variation:weight=0.1"]\n'
    path = write_study(tmp_path, lengths="[1]", controls=False, extra_setups=extra, seeds="[0, 1]")
    summary = study.run(path, tmp_path / "out", progress=False)
    assert summary["failed"] == 0 and summary["trained"] == 6
    pairs = {(c["setup"], c["baseline"]) for c in _results(tmp_path / "out")["comparisons"]}
    assert ("centroid", "bce") in pairs
    tv = [r for r in _results(tmp_path / "out")["runs"] if r["setup"] == "tv"]
    assert len(tv) == 2 and all(r["status"] == "done" for r in tv)


@pytest.mark.slow
def test_the_tiny_study_of_the_docs_runs(tmp_path: Path) -> None:
    source = Path(__file__).resolve().parents[1] / "experiments" / "tiny" / "study.toml"
    shutil.copyfile(source, tmp_path / "study.toml")
    summary = study.run(tmp_path / "study.toml", tmp_path / "out", progress=False)
    assert summary["trained"] == 12 and summary["failed"] == 0
    assert len(_results(tmp_path / "out")["comparisons"]) == 3 * 2 * 3  # 3 pairs, 2 lengths


def test_ctrl_c_leaves_a_consistent_state_and_the_next_run_finishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gan_regularizers.study import engines

    path = write_study(tmp_path, controls=False, seeds="[0]")
    real, calls = engines.execute, []

    def interrupted(task: dict) -> dict:
        calls.append(task["folder"])
        if len(calls) == 2:
            raise KeyboardInterrupt  # the user presses Ctrl-C during the second run
        return real(task)

    monkeypatch.setattr(engines, "execute", interrupted)
    with pytest.raises(KeyboardInterrupt):
        study.run(path, tmp_path / "out", progress=False)
    runs = _results(tmp_path / "out")["runs"]  # valid JSON: written atomically after run 1
    assert sorted(r["status"] for r in runs) == ["done", "pending"]
    monkeypatch.setattr(engines, "execute", real)
    summary = study.run(path, tmp_path / "out", progress=False)
    assert summary["trained"] == 1  # only the interrupted run
    assert all(r["status"] == "done" for r in _results(tmp_path / "out")["runs"])


OUTSIDE_ARCHITECTURE = """
import torch
from torch import nn
from gan_regularizers import hookimpl


class Generator(nn.Module):
    def __init__(self, image_size, channels, z_dim, width):
        super().__init__()
        self.z_dim, self.shape = z_dim, (channels, image_size, image_size)
        self.net = nn.Sequential(nn.Linear(z_dim, width), nn.ReLU(),
                                 nn.Linear(width, channels * image_size * image_size), nn.Tanh())

    def forward(self, z):
        return self.net(z.flatten(1)).view(len(z), *self.shape)


def tiny_nets(*, image_size, channels, z_dim, num_classes=0, width=8):
    discriminator = nn.Sequential(nn.Flatten(), nn.Linear(channels * image_size**2, width),
                                  nn.LeakyReLU(0.2), nn.Linear(width, 1))
    return Generator(image_size, channels, z_dim, width), discriminator


@hookimpl
def register_architectures(register):
    register("outside-mlp", tiny_nets)
"""


@pytest.mark.slow
def test_an_outside_regularizer_on_an_outside_architecture_from_a_study_file_alone(
    example_plugin: Path, install_distribution, tmp_path: Path
) -> None:
    """Two third-party distributions (a regularizer, an architecture), named only in the file."""
    install_distribution("outside-nets", {"outside-nets": "outside_nets"},
                         {"outside_nets": OUTSIDE_ARCHITECTURE})  # fmt: skip
    extra = (
        '\n[setups.own]\nloss = "bce"\narchitecture = "outside-mlp:width=6"\n'
        '\n[setups."own+tv"]\nloss = "bce"\narchitecture = "outside-mlp:width=6"\n'
        'regularizers = ["total-variation:weight=0.1"]\n'
        '\n[[comparisons]]\nsetup = "own+tv"\nbaseline = "own"\nfamily = "outside"\n'
    )
    path = write_study(tmp_path, lengths="[2]", controls=False, extra_setups=extra, seeds="[0, 1]")
    summary = study.run(path, tmp_path / "out", progress=False)
    assert summary["failed"] == 0 and summary["trained"] == 8
    results = _results(tmp_path / "out")
    own = [r for r in results["runs"] if r["setup"] in ("own", "own+tv")]
    assert len(own) == 4 and all(r["status"] == "done" for r in own)
    config = (tmp_path / "out" / own[0]["run_folder"] / "config.toml").read_text()
    assert 'architecture = "outside-mlp:width=6"' in config
    verdicts = [c for c in results["comparisons"] if c["setup"] == "own+tv"]
    assert {c["metric"] for c in verdicts} == {"fd:mnist-evaluator", "precision", "recall"}
    assert all(c["n"] == 2 and c["baseline"] == "own" for c in verdicts)


@pytest.mark.slow
def test_a_run_another_study_process_is_writing_is_refused_not_deleted(tmp_path: Path) -> None:
    """Two `study run`s on one study folder: the second refuses the run the first is training
    (its attempt lock is held) and leaves the folder alone; the next `study run` trains it."""
    from gan_regularizers.files.lock import hold_lock
    from gan_regularizers.study.execute import attempt_lock
    from gan_regularizers.study.plan import plan_runs
    from gan_regularizers.study.schema import load_study

    path = write_study(tmp_path, controls=False, seeds="[0]")
    out = tmp_path / "out"
    (busy,) = [r.folder for r in plan_runs(load_study(path), out) if r.setup == "bce"]
    busy.mkdir(parents=True)
    (busy / "checkpoint.pt").write_text("the other process's half-written run")
    with hold_lock(attempt_lock(busy), what="the other process", advice=""):
        summary = study.run(path, out, progress=False)
    assert summary["trained"] == 1 and summary["failed"] == 1
    (refused,) = [r for r in _results(out)["runs"] if r["status"] == "failed"]
    assert refused["setup"] == "bce" and refused["error"].startswith("InUseError: the study run")
    assert "then `study run` again collects it" in refused["error"]
    assert (busy / "checkpoint.pt").read_text() == "the other process's half-written run"
    again = study.run(path, out, progress=False)
    assert again["trained"] == 1 and again["failed"] == 0
    assert not attempt_lock(busy).exists()


def test_a_run_finished_by_another_process_meanwhile_is_scored_not_retrained(
    finished: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gan_regularizers.study import execute as executing

    results = _results(finished)
    (run,) = [r for r in results["runs"] if r["setup"] == "bce" and r["seed"] == 0]
    folder = tmp_path / "run"
    shutil.copytree(finished / run["run_folder"], folder)
    marker = executing.read_marker(folder)

    def retrain(task: dict) -> float:
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(executing, "_train", retrain)
    task = {"folder": str(folder), "config": {"data": "synthetic:num_images=16"},
            "digest": marker["digest"], "source": None,
            "scoring": {**results["scoring"], "digest": marker["scoring"]}}  # fmt: skip
    outcome = executing.execute(task)
    assert outcome["status"] == "done", outcome.get("error")
    assert outcome["metrics"] == marker["metrics"]
    assert outcome["train_seconds"] == marker["train_seconds"]


def test_a_changed_scoring_rescores_the_stored_runs_without_training_them(
    finished: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gan_regularizers.study import execute as executing

    copy = tmp_path / "out"
    shutil.copytree(finished, copy)
    text = (copy / "study.toml").read_text()
    assert "num_samples = 16" in text
    (copy / "study.toml").write_text(text.replace("num_samples = 16", "num_samples = 12"))

    def retrain(task: dict) -> float:
        raise AssertionError("a trained run was trained again to re-score it")

    monkeypatch.setattr(executing, "_train", retrain)
    summary = study.run(copy / "study.toml", copy, progress=False)
    assert summary["failed"] == 0 and summary["trained"] == 6  # executed now: scored only
    before = {(r["setup"], r["seed"]): r for r in _results(finished)["runs"]}
    for run in _results(copy)["runs"]:
        assert run["train_seconds"] == before[run["setup"], run["seed"]]["train_seconds"]
        assert run["scoring"] != before[run["setup"], run["seed"]]["scoring"]
