"""``gan-regularizers fit``: the statistics it writes are reused by ``train``; it never overwrites
a user's file; ``--quiet`` hides its progress bar; options go in the ``--feature-space`` spec."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from gan_regularizers.centroid.loss import CentroidLoss
from gan_regularizers.cli import main

FIT = ["--threads", "1", "fit", "--feature-space", "mnist-features", "--device", "cpu"]


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("GAN_REGULARIZERS_CACHE", str(cache))
    return cache


def _refitting_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def refit(self: CentroidLoss, *args: object, **kwargs: object) -> None:
        raise AssertionError("the statistics were fitted again instead of read from the cache")

    monkeypatch.setattr(CentroidLoss, "fit_now", refit)


def test_train_reuses_the_statistics_fit_wrote(
    tmp_path: Path, private_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gan_regularizers.data.sources import load_dataset
    from gan_regularizers.plugin_system.registry import get_regularizer
    from gan_regularizers.training.loop import train

    out = tmp_path / "stats.pt"
    argv = [*FIT, "--max-images", "64", "--batch-size", "32", "--quiet", "--out", str(out)]
    assert main(argv) == 0
    assert len(list(private_cache.glob("centroid-*.pt"))) == 1
    saved = CentroidLoss.load(out)
    _refitting_is_an_error(monkeypatch)
    # what train does for a centroid without statistics: fit(dataset, cache=True, max_images=…)
    centroid = get_regularizer("centroid", feature_space="mnist-features", weight=0.5)
    centroid.fit(load_dataset("mnist5k", image_size=32), max_images=64, cache=True)
    assert torch.equal(centroid.center, saved.center)
    assert torch.equal(centroid.d_ref, saved.d_ref)
    assert int(centroid.num_images) == 64
    result = train(  # the same, through the training loop: it would raise on a refit
        data="mnist5k",
        regularizers=["centroid:weight=0.1,feature_space=mnist-features"],
        fit_max_images=64,
        steps=1,
        batch_size=8,
        architecture="dcgan:g_width=4,d_width=4",
        z_dim=8,
        grid_size=4,
        quiet=True,
        tensorboard=False,
        run_dir=str(tmp_path / "run"),
    )
    assert Path(result.run_dir).is_dir()


def test_quiet_hides_the_progress_bar(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    common = [*FIT, "--max-images", "8", "--no-cache"]
    assert main([*common, "--out", str(tmp_path / "a.pt")]) == 0
    assert "centroid centre" in capsys.readouterr().err  # the bar, on stderr
    assert main([*common, "--quiet", "--out", str(tmp_path / "b.pt")]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out.startswith(
        "fitted centroid:feature_space=mnist-features on mnist5k: 8 images, d_ref = "
    )


def test_overwrite_replaces_an_existing_file(tmp_path: Path) -> None:
    out = tmp_path / "stats.pt"
    out.write_bytes(b"old")
    argv = [*FIT, "--max-images", "8", "--quiet", "--out", str(out)]
    assert main(argv) == 1
    assert out.read_bytes() == b"old"
    assert main([*argv, "--overwrite"]) == 0
    assert int(CentroidLoss.load(out).num_images) == 8


def test_options_in_the_spec_reach_the_centroid(tmp_path: Path) -> None:
    out = tmp_path / "stats.pt"
    spec = "mnist-features:radius=quantile,q=0.5"
    argv = [*FIT[:3], "--feature-space", spec, "--device", "cpu", "--max-images", "8"]
    argv += ["--quiet", "--out", str(out)]
    assert main(argv) == 0
    loaded = CentroidLoss.load(out)
    assert (loaded.options.radius, loaded.options.q) == ("quantile", 0.5)


def test_an_unwritable_out_folder_is_refused_before_fitting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import gan_regularizers.commands.fit as fit_command

    _refitting_is_an_error(monkeypatch)  # the refusal comes first: no fitting is thrown away
    monkeypatch.setattr(fit_command.os, "access", lambda path, mode: False)  # tests run as root
    out = tmp_path / "new" / "stats.pt"
    assert main([*FIT, "--out", str(out)]) == 1
    assert capsys.readouterr().err == (
        f"gan-regularizers fit: error: --out {out}: cannot write in {tmp_path} (permission "
        "denied). Choose a folder you can write to.\n"
    )
    assert not (tmp_path / "new").exists()
