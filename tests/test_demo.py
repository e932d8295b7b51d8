"""``gan-regularizers demo`` at a reduced size writes every output; ``fit`` saves statistics."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from gan_regularizers import CentroidLoss
from gan_regularizers.cli import main
from gan_regularizers.commands.demo import DemoSettings, run_demo
from gan_regularizers.errors import RunFolderError
from gan_regularizers.training.metrics_log import read_metrics


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Statistics caches go to the test's folder, and tiny networks run on one thread."""
    monkeypatch.setenv("GAN_REGULARIZERS_CACHE", str(tmp_path / "cache"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_demo_reduced_writes_both_runs_and_one_comparison(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    settings = DemoSettings(
        steps=2, batch_size=8, width=4, quiet=True, eval_images=40, centroid_every=1
    )
    report = run_demo(out, settings)
    assert report == out / "report.md"
    for run in ("bce", "bce+centroid"):
        for name in ("config.toml", "metrics.jsonl", "checkpoint.pt", "report.md",
                     "samples/step_000002.png"):  # fmt: skip
            assert (out / run / name).is_file(), f"{run}/{name}"
    assert (out / "losses.png").is_file() and (out / "d_outputs.png").is_file()
    plain, regularized = read_metrics(out / "bce"), read_metrics(out / "bce+centroid")
    assert [r["step"] for r in plain] == [r["step"] for r in regularized] == [1, 2]
    assert "reg/centroid" not in plain[-1]
    # the logged penalty is λ · mean excess of the same interval: the diagnostics agree with it
    last = regularized[-1]
    assert last["reg/centroid"] == pytest.approx(0.1 * last["diag/centroid/mean_excess"], rel=0.2)
    assert (last["reg/centroid"] > 0) == (last["diag/centroid/fraction_penalised"] > 0)
    # same seed, same first batch: before any update the two runs' D(x) are identical
    assert plain[0]["d_real"] == regularized[0]["d_real"]
    text = report.read_text()
    assert "![bce](bce/samples/step_000002.png)" in text
    assert "![bce+centroid](bce+centroid/samples/step_000002.png)" in text
    assert "| metric | bce | bce+centroid |" in text
    # throughput over the whole run (fit, sampling, checkpoints included), not the last interval
    assert "| images / s (whole run) |" in text and "(last interval)" not in text
    assert "centroid:weight=0.1,feature_space=mnist-features" in text
    assert "(losses.png)" in text and "(d_outputs.png)" in text
    assert "## Samples seen by the centroid" in text and "fraction_penalised" in text
    # metrics in a space neither run was regularized in, with intervals, and the protocol card
    assert "## Metrics" in text and "| fd:mnist-evaluator |" in text and "| modes |" in text
    assert "| metric | bce | bce+centroid | real data |" in text
    assert "| modes-accepted |" in text and "| precision |" in text
    assert "![metrics](comparison/comparison.png)" in text and "### Protocol" in text
    for name in ("comparison.md", "comparison.csv", "comparison.png"):
        assert (out / "comparison" / name).is_file()
    rows = list(csv.DictReader((out / "comparison" / "comparison.csv").open()))
    fd = {row["run"]: row for row in rows if row["metric"] == "fd:mnist-evaluator"}
    assert set(fd) == {"bce", "bce+centroid", "real data"}
    for row in fd.values():
        assert float(row["low"]) <= float(row["value"]) <= float(row["high"])
    accepted = {r["run"]: float(r["value"]) for r in rows if r["metric"] == "modes-accepted"}
    assert accepted["real data"] > 0.8  # the evaluator accepts real digits


def test_demo_applies_the_centroid_lazily_by_default(tmp_path: Path) -> None:
    """Default every=4: the penalty runs on steps 1 and 5 only, scaled by 4 (4·λ·excess)."""
    out = tmp_path / "demo"
    run_demo(out, DemoSettings(steps=5, batch_size=8, width=4, quiet=True, eval_images=0))
    rows = read_metrics(out / "bce+centroid")  # untrained G: every sample is penalised
    active = [row["step"] for row in rows if row["reg/centroid"] > 0]
    assert active == [1, 5]
    for row in rows:
        if row["step"] in active:
            expected = 4 * 0.1 * row["diag/centroid/mean_excess"]
            assert row["reg/centroid"] == pytest.approx(expected, rel=1e-4, abs=1e-7)
    assert "every=4" in (out / "report.md").read_text()


def test_demo_refuses_a_users_folder(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("mine")
    with pytest.raises(RunFolderError, match=r"is not empty and is not an earlier demo"):
        run_demo(tmp_path, DemoSettings(steps=1, batch_size=8, width=4, quiet=True))
    assert [p.name for p in tmp_path.iterdir()] == ["notes.md"]


def test_fit_command_saves_loadable_statistics(tmp_path: Path) -> None:
    out = tmp_path / "stats.pt"
    with pytest.warns(UserWarning, match="randomly initialised"):  # mechanics, not weights
        code = main(["fit", "--data", "synthetic:num_images=12,channels=1", "--feature-space",
                     "mnist-features:pretrained=false", "--out", str(out),
                     "--batch-size", "5"])  # fmt: skip
    assert code == 0 and out.is_file()
    with pytest.warns(UserWarning, match="randomly initialised"):
        loaded = CentroidLoss.load(out)
    assert int(loaded.num_images) == 12 and float(loaded.d_ref) > 0
    assert main(["fit", "--feature-space", "mnist-features", "--out", str(out),
                 "--max-images", "1"]) == 1  # fmt: skip
