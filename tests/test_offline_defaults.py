"""Issue 23: ``eval``, ``compare`` and ``score`` on their defaults, offline; the documented
commands of docs/cli.md run as written; nothing is silently computed as nothing."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
from tiny_runs import train_tiny_mnist_run

from gan_regularizers.cli import main

REPO = Path(__file__).resolve().parents[1]
SMALL = ["--num-samples", "100", "--max-images", "200", "--quiet"]


@pytest.fixture(autouse=True)
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No network, no cached weights, a private statistics cache."""
    monkeypatch.setenv("GAN_REGULARIZERS_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("GAN_REGULARIZERS_CACHE", str(tmp_path / "cache"))


def write_pngs(folder: Path, count: int, size: int, seed: int) -> np.ndarray:
    """``count`` random RGB PNGs of ``size``²; returns them in [-1, 1], flattened (float64)."""
    from PIL import Image

    folder.mkdir(parents=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (count, size, size, 3), dtype=np.uint8)
    for index, image in enumerate(pixels):
        Image.fromarray(image).save(folder / f"{index:03d}.png")
    chw = pixels.transpose(0, 3, 1, 2).astype(np.float64) / 255 * 2 - 1
    return chw.reshape(count, -1)


def scipy_frechet(real: np.ndarray, fake: np.ndarray) -> float:
    s1, s2 = np.cov(real, rowvar=False), np.cov(fake, rowvar=False)
    root = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((real.mean(0) - fake.mean(0)) ** 2).sum() + np.trace(s1 + s2 - 2 * root))


def test_score_two_folders_of_pngs(tmp_path: Path, capsys) -> None:
    fake = write_pngs(tmp_path / "fakes", 60, 4, seed=1)
    real = write_pngs(tmp_path / "reals", 70, 4, seed=2)
    out = tmp_path / "scored"
    command = ["score", str(tmp_path / "fakes"), str(tmp_path / "reals"), "--metrics",
               "fd:pixels,precision-recall:pixels", "--image-size", "4", "--out", str(out),
               "--quiet"]  # fmt: skip
    assert main(command) == 0
    payload = json.loads((out / "metrics.json").read_text())
    fd = payload["metrics"]["fd:pixels"]
    assert fd["value"] == pytest.approx(scipy_frechet(real, fake), rel=1e-6)
    assert fd["low"] < fd["value"] < fd["high"] and (fd["n_real"], fd["n_fake"]) == (70, 60)
    protocol = payload["entries"][0]["protocol"]
    assert protocol["num_fake"] == 60 and protocol["versions"]["torch"]
    assert protocol["fake_source"]["spec"] == f"folder:{tmp_path / 'fakes'}"
    printed = capsys.readouterr().out
    assert "fd:pixels: " in printed and "precision: " in printed and "sampling interval" in printed


def test_score_offline_defaults_on_folders_say_what_to_use(tmp_path: Path, capsys) -> None:
    write_pngs(tmp_path / "fakes", 8, 4, seed=1)
    write_pngs(tmp_path / "reals", 8, 4, seed=2)
    out = tmp_path / "scored"
    assert main(["score", str(tmp_path / "fakes"), str(tmp_path / "reals"), "--out", str(out)]) == 1
    error = capsys.readouterr().err
    assert "no metric could be computed" in error and "fid: " in error and "lpips-div: " in error
    assert "fd:pixels" in error and not out.exists()


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-step run trained on a folder of PNGs."""
    root = tmp_path_factory.mktemp("folder-run")
    write_pngs(root / "images", 16, 32, seed=3)
    train_tiny_mnist_run(root / "run", data=f"folder:{root / 'images'}")
    return root / "run"


def test_default_eval_of_an_image_folder_run_offline_fails_clearly(folder_run, capsys) -> None:
    """Issue 23: it computed nothing and exited 0 with an empty metrics.json."""
    assert main(["eval", str(folder_run), "--num-samples", "20"]) == 1
    error = capsys.readouterr().err
    assert "no metric could be computed" in error
    assert "fid: " in error and "lpips-div: " in error  # which default could not run, and why
    assert "--metrics fd:pixels" in error  # what runs offline
    assert not (folder_run / "metrics.json").exists()


def test_default_compare_of_image_folder_runs_offline_fails_clearly(
    folder_run, tmp_path, capsys
) -> None:
    """Issue 23: it crashed inside matplotlib (zero columns) and left an empty folder."""
    out = tmp_path / "comparison"
    code = main(["compare", str(folder_run), str(folder_run), "--num-samples", "20",
                 "--out", str(out)])  # fmt: skip
    assert code == 1
    error = capsys.readouterr().err
    assert "no metric could be computed" in error and "fd:pixels" in error
    assert not out.exists()


def test_offline_metrics_on_an_image_folder_run_work(folder_run, tmp_path) -> None:
    out = tmp_path / "eval"
    command = ["eval", str(folder_run), "--metrics", "fd:pixels", "--num-samples", "20",
               "--out", str(out), "--quiet"]  # fmt: skip
    assert main(command) == 0
    assert json.loads((out / "metrics.json").read_text())["metrics"]["fd:pixels"]["value"] > 0


def documented_commands(section: str) -> list[str]:
    """The commands of the first ```bash block of a docs/cli.md section (lines joined)."""
    text = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    body = text.split(f"## `{section}`", 1)[1].split("\n## ", 1)[0]
    block = re.findall(r"```bash\n(.*?)```", body, flags=re.S)[0]
    return [line for line in block.replace("\\\n", " ").splitlines() if line.strip()]


def test_the_documented_eval_compare_and_score_commands_run_offline(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    """Every command of the first block of docs/cli.md's eval, compare and score sections, as
    written (metrics on their defaults), on mnist5k runs where they name runs/demo/…, offline.
    Only the sizes are made small for a 2-core test machine (``SMALL``): 5,000 images per set
    cost minutes per command there, and change no code path."""
    monkeypatch.chdir(tmp_path)
    for name in ("bce", "bce+centroid"):
        train_tiny_mnist_run(tmp_path / "runs" / "demo" / name, seed=len(name))
    write_pngs(tmp_path / "fakes", 40, 16, seed=4)
    write_pngs(tmp_path / "reals", 40, 16, seed=5)
    commands = [c for s in ("eval", "compare", "score") for c in documented_commands(s)]
    assert len(commands) >= 5
    for command in commands:
        words = shlex.split(command)
        assert words[0] == "gan-regularizers"
        assert main([*words[1:], *SMALL]) == 0, (command, capsys.readouterr().err)
    payload = json.loads((tmp_path / "runs/demo/bce+centroid/metrics.json").read_text())
    assert {"fd:mnist-evaluator", "precision", "recall", "modes"} <= set(payload["metrics"])
    comparison = (tmp_path / "runs/demo/comparison/comparison.md").read_text()
    assert "| fd:mnist-evaluator |" in comparison and "lpips-div skipped" in comparison
    assert (tmp_path / "runs/demo/score/metrics.json").is_file()


def test_default_eval_and_compare_of_synthetic_runs_offline(tmp_path: Path, capsys) -> None:
    from tiny_runs import TINY

    from gan_regularizers import train

    runs = [tmp_path / "one", tmp_path / "two"]
    for seed, run in enumerate(runs):
        train(None, **{**TINY, "steps": 1, "seed": seed, "run_dir": str(run)})
    assert main(["eval", str(runs[0]), "--num-samples", "40", "--quiet"]) == 0
    stored = json.loads((runs[0] / "metrics.json").read_text())["metrics"]
    assert {"fd:pixels", "precision", "recall"} <= set(stored)
    assert "lpips-div: skipped" in capsys.readouterr().out
    out = tmp_path / "comparison"
    assert main(["compare", *map(str, runs), "--num-samples", "40", "--out", str(out)]) == 0
    assert "| fd:pixels |" in (out / "comparison.md").read_text()
