"""Evaluation by metric name, its intervals, batch-size independence, and eval / compare."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import torch
from torch import nn

from gan_regularizers import get_feature_space
from gan_regularizers.cli import main
from gan_regularizers.commands.compare import independent_metrics
from gan_regularizers.data.mnist5k import load_mnist5k
from gan_regularizers.metrics.evaluation import (
    GeneratedImages,
    MetricError,
    SameSpaceWarning,
    evaluate,
    resolve_metrics,
)

pytestmark = pytest.mark.usefixtures("isolated_cache")  # tests/conftest.py


class TinyGenerator(nn.Module):
    """z (B×8) → 1×32×32 images in [-1, 1]; deterministic weights."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Linear(8, 32 * 32), nn.Tanh(), nn.Unflatten(1, (1, 32, 32)))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


def numpy_frechet(real: np.ndarray, fake: np.ndarray) -> float:
    mu1, mu2, s1, s2 = real.mean(0), fake.mean(0), np.cov(real.T), np.cov(fake.T)
    return float(
        ((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * scipy.linalg.sqrtm(s1 @ s2).real)
    )


def test_metric_names_are_checked_with_a_suggestion() -> None:
    assert [m.spec for m in resolve_metrics("fid, fd:dino,fid")] == ["fid", "fd:dino"]
    with pytest.raises(MetricError, match="Did you mean 'lpips-div'"):
        resolve_metrics("lpips-dv")
    with pytest.raises(MetricError, match="no metrics"):
        resolve_metrics(" , ")


def test_generated_images_do_not_depend_on_the_batch_size() -> None:
    generator = TinyGenerator()
    one = torch.cat(list(GeneratedImages(generator, 10, 8, seed=3, batch_size=1)))
    four = torch.cat(list(GeneratedImages(generator, 10, 8, seed=3, batch_size=4)))
    torch.testing.assert_close(one, four, rtol=1e-6, atol=1e-6)
    with pytest.raises(MetricError, match="at least 2"):
        GeneratedImages(generator, 1, 8)


# mnist-classifier has dead ReLU units, so the covariances are singular: scipy warns that its
# sqrtm may be inaccurate, yet it still agrees with the symmetric route to 1e-6 below.
@pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")
def test_fd_value_and_jackknife_interval_equal_numpy() -> None:
    real = load_mnist5k()[0][:300]
    fake = GeneratedImages(TinyGenerator(), 200, 8, seed=1, batch_size=16)
    result = evaluate(fake, real, "fd:mnist-classifier", progress=False).metrics[
        "fd:mnist-classifier"
    ]
    space = get_feature_space("mnist-classifier")
    with torch.no_grad():
        real_features = space(real).double().numpy()
        fake_features = space(torch.cat(list(fake))).double().numpy()
    assert result.value == pytest.approx(numpy_frechet(real_features, fake_features), rel=1e-6)
    folds = np.arange(200) % 10
    leave_out = np.array(
        [numpy_frechet(real_features, fake_features[folds != k]) for k in range(10)]
    )
    half = 2.2621571627 * np.sqrt(9 / 10 * ((leave_out - leave_out.mean()) ** 2).sum())
    assert result.low == pytest.approx(max(result.value - half, 0), rel=1e-5)
    assert result.high == pytest.approx(result.value + half, rel=1e-5)
    assert result.n_real == 300 and result.n_fake == 200
    assert "jackknife" in result.protocol["interval"] and "sampling" in result.protocol["interval"]


def test_every_metric_is_batch_size_independent() -> None:
    real = load_mnist5k()[0][:200]
    generator = TinyGenerator()
    results = []
    for batch in (1, 13):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # random LPIPS trunk: a mechanics test
            results.append(
                evaluate(
                    GeneratedImages(generator, 40, 8, seed=2, batch_size=batch),
                    real,
                    "fd:mnist-classifier,modes,lpips-div:pretrained=false",
                    batch_size=batch,
                    pairs=30,
                    progress=False,
                )
            )
    for name in ("fd:mnist-classifier", "lpips-div"):
        first, second = (r.metrics[name] for r in results)
        assert first.value == pytest.approx(second.value, rel=1e-5, abs=1e-7)
        assert first.low == pytest.approx(second.low, rel=1e-5, abs=1e-7)
    first, second = (r.metrics["modes"].protocol for r in results)
    assert first["histogram"] == second["histogram"]
    first, second = (r.metrics["modes-kl"] for r in results)
    assert first.value == pytest.approx(second.value, abs=1e-12)
    protocol = results[1].protocol
    assert protocol["num_fake"] == 40 and protocol["num_real"] == 200
    assert protocol["versions"]["torch"] and "mnist-classifier" in protocol["feature_spaces"]


def test_measuring_in_the_regularizer_space_warns() -> None:
    real = load_mnist5k()[0][:50]
    fake = GeneratedImages(TinyGenerator(), 20, 8)
    with pytest.warns(SameSpaceWarning, match="Kynkäänniemi"):
        evaluate(fake, real, "fd:mnist-features", regularizer_spaces=["mnist-features"],
                 progress=False)  # fmt: skip


def test_compare_adds_a_space_no_regularizer_used(monkeypatch, tmp_path: Path) -> None:
    from gan_regularizers.data.sources import load_dataset

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # no DINOv2 weights cached
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    spaces = {"mnist-features"}
    mnist = load_dataset("mnist5k")
    names, note = independent_metrics(["fd:mnist-features"], spaces, mnist)
    assert names == ["fd:mnist-features", "fd:mnist-evaluator"]  # mnist5k's declared metric
    assert "fd-dinov2 unavailable" in note
    assert independent_metrics(["fd:dino"], spaces, mnist) == (["fd:dino"], None)
    names, _ = independent_metrics(["lpips-div"], {"vgg16"}, object())
    assert names == ["lpips-div", "fid"]


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    from gan_regularizers import train

    root = tmp_path_factory.mktemp("runs")
    runs = []
    for label, regularizers in (
        ("plain", []),
        ("centroid", ["centroid:feature_space=mnist-features"]),
    ):
        train(None, data="mnist5k", steps=2, batch_size=8, quiet=True,
              architecture="dcgan:g_width=4,d_width=4", regularizers=regularizers,
              run_dir=str(root / label), fit_cache=False, tensorboard=False)  # fmt: skip
        runs.append(root / label)
    return runs


def test_eval_command_writes_metrics_json(two_runs: list[Path], capsys) -> None:
    code = main(["eval", str(two_runs[0]), "--num-samples", "30", "--metrics",
                 "fd:mnist-classifier,modes", "--quiet"])  # fmt: skip
    assert code == 0
    payload = json.loads((two_runs[0] / "metrics.json").read_text())
    assert set(payload["metrics"]) == {"fd:mnist-classifier", "modes", "modes-accepted", "modes-kl"}
    entry = payload["entries"][-1]
    assert entry["run"]["step"] == 2 and entry["protocol"]["num_fake"] == 30
    assert "fd:mnist-classifier:" in capsys.readouterr().out


def test_eval_command_errors(two_runs: list[Path], monkeypatch, tmp_path: Path, capsys) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("GAN_REGULARIZERS_OFFLINE", "1")
    assert main(["eval", str(two_runs[0]), "--num-samples", "30", "--metrics", "lpips-div"]) == 1
    assert "LPIPS AlexNet trunk" in capsys.readouterr().err
    assert main(["eval", str(two_runs[0]), "--num-samples", "30", "--metrics", "lpips-dv"]) == 1
    assert "Did you mean 'lpips-div'" in capsys.readouterr().err
    assert main(["eval", str(tmp_path / "nowhere")]) == 1
    assert "no checkpoint" in capsys.readouterr().err


def test_compare_command_writes_table_csv_and_chart(two_runs: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    with pytest.warns(SameSpaceWarning):
        code = main(["compare", *map(str, two_runs), "--num-samples", "30", "--metrics",
                     "fd:mnist-features", "--out", str(out), "--quiet"])  # fmt: skip
    assert code == 0
    text = (out / "comparison.md").read_text()
    assert "| fd:mnist-features |" in text and "| fd:mnist-evaluator |" in text  # added
    assert "regularized in mnist-features" in text
    rows = (out / "comparison.csv").read_text().splitlines()
    assert rows[0] == "run,metric,value,low,high" and len(rows) == 1 + 2 * 2
    assert (out / "comparison.png").stat().st_size > 1000
