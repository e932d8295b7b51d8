"""``gan-regularizers fit --regularizer SPEC`` fits any regularizer with ``fit``, and ``train``
loads the file with ``fitted=FILE``: held with an outside-style plugin written to the bare
``FittableRegularizer`` contract (``fit(data)``, no other keyword)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import torch
from tiny_runs import TINY
from torch import nn

from gan_regularizers import hookimpl
from gan_regularizers.centroid.loss import CentroidLoss
from gan_regularizers.cli import main
from gan_regularizers.data.sources import load_dataset
from gan_regularizers.errors import ConfigError, StatisticsFileError
from gan_regularizers.training.loop import train

DATA = "synthetic:num_images=12,channels=1"


class MeanImage(nn.Module):
    """‖mean(fake) − mean(real)‖²: its statistics are the training images' mean image."""

    fits: ClassVar[list[int]] = []

    def __init__(self, size: int = 32) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(1, size, size))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))

    @property
    def fitted(self) -> bool:
        return int(self.count) > 0

    def fit(self, data):  # the bare contract: any other keyword would be a TypeError
        images = torch.stack([item[0] if isinstance(item, tuple | list) else item for item in data])
        self.mean.copy_(images.mean(0))
        self.count.fill_(len(images))
        MeanImage.fits.append(len(images))
        return self

    def forward(self, fake: torch.Tensor) -> torch.Tensor:
        return (fake.mean(0) - self.mean).square().sum()


class PlainMeanImage:
    """The same statistics kept on a plain object: no state_dict, no save of its own."""

    fits: ClassVar[int] = 0

    def __init__(self) -> None:
        self.fitted = False

    def fit(self, data):
        PlainMeanImage.fits += 1
        self.fitted = True
        return self

    def __call__(self, fake: torch.Tensor) -> torch.Tensor:
        return fake.mean().square()


class Plugin:
    @hookimpl
    def register_regularizers(self, register):
        register("mean-image", MeanImage)
        register("plain-mean-image", PlainMeanImage)


@pytest.fixture(autouse=True)
def plugin(register_plugin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    register_plugin(Plugin(), "fit-probe")
    monkeypatch.setenv("GAN_REGULARIZERS_CACHE", str(tmp_path / "cache"))
    MeanImage.fits.clear()


def fit(*argv: str) -> int:
    return main(["--threads", "1", "fit", "--data", DATA, "--device", "cpu", "--quiet", *argv])


def real_mean() -> np.ndarray:
    """The mean image in float64, from the dataset's own items."""
    dataset = load_dataset(DATA, image_size=32)
    items = [dataset[i] for i in range(len(dataset))]
    stacked = np.stack([np.asarray(item[0] if isinstance(item, tuple | list) else item,
                                   dtype=np.float64) for item in items])  # fmt: skip
    return stacked.mean(0)


def test_fit_writes_a_plugins_state_and_train_loads_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "mean.pt"
    assert fit("--regularizer", "mean-image", "--out", str(out)) == 0
    assert capsys.readouterr().out == f"fitted mean-image on {DATA}; saved {out}\n"
    payload = torch.load(out, weights_only=True)
    assert payload["name"] == "mean-image" and payload["spec"] == "mean-image"
    np.testing.assert_allclose(payload["state_dict"]["mean"].double().numpy(), real_mean(),
                               atol=1e-6)  # fmt: skip
    assert MeanImage.fits == [12]
    result = train(None, **TINY, steps=2, regularizers=[f"mean-image:fitted={out}"],
                   run_dir=str(tmp_path / "run"))  # fmt: skip
    assert MeanImage.fits == [12]  # loaded, not fitted again
    loaded = result.regularizers["mean-image"]
    assert torch.equal(loaded.mean.cpu(), payload["state_dict"]["mean"])


def test_train_fits_a_bare_contract_plugin(tmp_path: Path) -> None:
    """The loop offers fit only the keywords it names: ``fit(data)`` gets the data alone."""
    train(None, **TINY, steps=1, regularizers=["mean-image"], run_dir=str(tmp_path / "run"))
    assert MeanImage.fits == [16]


def test_the_centroid_spec_writes_the_centroids_own_file(tmp_path: Path) -> None:
    by_spec, by_space = tmp_path / "a.pt", tmp_path / "b.pt"
    spec = "centroid:feature_space=mnist-features,radius=quantile"
    assert fit("--regularizer", spec, "--max-images", "8", "--out", str(by_spec)) == 0
    shorthand = ("--feature-space", "mnist-features:radius=quantile", "--max-images", "8")
    assert fit(*shorthand, "--out", str(by_space)) == 0
    first, second = CentroidLoss.load(by_spec), CentroidLoss.load(by_space)
    assert torch.equal(first.center, second.center) and torch.equal(first.d_ref, second.d_ref)
    assert first.options.radius == "quantile"


def test_a_regularizer_without_fit_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r1.pt"
    assert fit("--regularizer", "r1:gamma=10", "--out", str(out)) == 1
    error = capsys.readouterr().err
    assert "--regularizer r1:gamma=10: the regularizer 'r1' has no fit" in error
    assert "centroid:feature_space=mnist-features" in error and not out.exists()


def test_fitted_refuses_wrong_files_clearly(tmp_path: Path) -> None:
    out = tmp_path / "mean.pt"
    assert fit("--regularizer", "mean-image", "--out", str(out)) == 0
    run = {**TINY, "steps": 1, "run_dir": str(tmp_path / "run")}
    with pytest.raises(ConfigError, match=r"'r1' has no fit \(nothing to load\)"):
        train(None, **run, regularizers=[f"r1:fitted={out}"])
    with pytest.raises(StatisticsFileError, match=r"does not fit this mean-image: it was fitted"):
        train(None, **run, regularizers=[f"mean-image:size=16,fitted={out}"])
    stats = tmp_path / "stats.pt"
    assert fit("--feature-space", "mnist-features", "--max-images", "8", "--out", str(stats)) == 0
    with pytest.raises(StatisticsFileError, match=r"is not a gan-regularizers-fitted-regularizer"):
        train(None, **run, regularizers=[f"mean-image:fitted={stats}"])
    with pytest.raises(StatisticsFileError, match=r"No fitted-regularizer file at"):
        train(None, **run, regularizers=[f"mean-image:fitted={tmp_path / 'missing.pt'}"])
    assert MeanImage.fits == [12]


def test_a_state_that_cannot_be_saved_is_refused_before_fitting_with_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    PlainMeanImage.fits = 0
    out = tmp_path / "plain.pt"
    assert fit("--regularizer", "plain-mean-image", "--out", str(out)) == 1
    error = capsys.readouterr().err
    named = "--regularizer plain-mean-image: the regularizer 'plain-mean-image' (PlainMeanImage)"
    assert named in error
    assert "is not a torch.nn.Module" in error and "Make it an nn.Module" in error
    assert PlainMeanImage.fits == 0 and not out.exists()  # refused before the fit, not after

    saved = tmp_path / "mean.pt"
    assert fit("--regularizer", "mean-image", "--out", str(saved)) == 0
    run = {**TINY, "steps": 1, "run_dir": str(tmp_path / "run")}
    refused = r"'plain-mean-image:fitted=.*' \(PlainMeanImage\) is not a torch.nn.Module"
    with pytest.raises(ConfigError, match=refused):
        train(None, **run, regularizers=[f"plain-mean-image:fitted={saved}"])
