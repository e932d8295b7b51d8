"""``metrics.evaluate`` with every kind of generated input, random subsets, specs and plugins."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from gan_regularizers import get_feature_space, metrics
from gan_regularizers.data.batches import iterate_batches, subset_protocol
from gan_regularizers.data.sources import load_dataset
from gan_regularizers.errors import MetricError
from gan_regularizers.metrics.specs import parse_metric_spec, split_specs
from gan_regularizers.models.dcgan import DCGANGenerator

REPO = Path(__file__).resolve().parents[1]
SPACE = "fd:mnist-features"


pytestmark = pytest.mark.usefixtures("isolated_cache")  # tests/conftest.py


@pytest.fixture(scope="module")
def real() -> torch.Tensor:
    return load_dataset("mnist5k").images[::50]  # 100 digits, every class


def expected_fd(real: torch.Tensor, fake: torch.Tensor) -> float:
    space = get_feature_space("mnist-features")
    with torch.no_grad():
        return metrics.frechet_distance(space(real), space(fake)).value


def dcgan() -> nn.Module:
    torch.manual_seed(0)
    return DCGANGenerator(image_size=32, channels=1, z_dim=8, base_width=4)


def test_a_dcgan_with_b_nz_1_1_latents(real: torch.Tensor) -> None:
    generator = dcgan()
    result = metrics.evaluate(
        generator, real, [SPACE], num_samples=40, seed=3, latent_shape=(8, 1, 1), batch_size=16
    ).metrics[SPACE]
    z = torch.randn(40, 8, 1, 1, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        images = generator.eval()(z)
    assert result.value == pytest.approx(expected_fd(real, images), rel=1e-6)
    assert result.n_fake == 40 and result.n_real == 100


def test_tensor_loader_and_sampler_inputs(real: torch.Tensor) -> None:
    fake = (load_dataset("mnist5k").images[25::50] * 0.8).clone()  # 100 other digits
    expected = expected_fd(real, fake)
    for source in (fake, DataLoader(TensorDataset(fake), batch_size=30), iter(fake.split(17))):
        result = metrics.evaluate(source, real, [SPACE]).metrics[SPACE]
        assert result.value == pytest.approx(expected, rel=1e-6)

    def sample(n: int) -> torch.Tensor:
        return torch.rand(n, 1, 32, 32) * 2 - 1

    one = metrics.evaluate(sample, real, [SPACE], num_samples=30, seed=1, batch_size=8)
    two = metrics.evaluate(sample, real, [SPACE], num_samples=30, seed=1, batch_size=8)
    assert one.metrics[SPACE].value == two.metrics[SPACE].value  # seeded per batch
    assert one.protocol["fake"]["kind"] == "sampler"
    subset = metrics.evaluate(fake, real, [SPACE], num_samples=50, seed=4)
    rows = torch.randperm(100, generator=torch.Generator().manual_seed(4))[:50].sort().values
    assert subset.metrics[SPACE].value == pytest.approx(expected_fd(real, fake[rows]), rel=1e-6)
    assert "uniform random sample of 50 rows" in subset.protocol["fake"]["rows"]


def test_a_module_without_a_latent_shape_is_refused(real: torch.Tensor) -> None:
    with pytest.raises(MetricError, match=r"latent_shape=\(100, 1, 1\)"):
        metrics.evaluate(nn.Linear(8, 8), real, [SPACE])
    with pytest.raises(MetricError, match="cannot read generated images from a int"):
        metrics.evaluate(3, real, [SPACE])


def test_one_pass_serves_every_metric_of_a_space(real: torch.Tensor, monkeypatch) -> None:
    calls = []
    space_type = type(get_feature_space("mnist-features"))
    original = space_type.forward
    monkeypatch.setattr(space_type, "forward", lambda s, x: calls.append(len(x)) or original(s, x))
    fake = real.flip(0)[:60] * 0.9
    specs = [
        "fd:mnist-features",
        "kid:feature_space=mnist-features,subsets=3,subset_size=20",
        "precision-recall:feature_space=mnist-features",
        "density-coverage:feature_space=mnist-features",
    ]
    evaluation = metrics.evaluate(fake, real, specs, batch_size=64)
    assert sum(calls) == 60 + 100  # each image once through the network
    assert set(evaluation.metrics) == {SPACE, "kid", "precision", "recall", "density", "coverage"}
    space = get_feature_space("mnist-features")
    with torch.no_grad():
        pr = metrics.precision_recall(space(real), space(fake))
    assert evaluation.metrics["precision"].value == pr.precision.value
    assert evaluation.metrics["kid"].protocol["feature_space"]["feature_space"] == "mnist-features"


def test_max_images_is_a_seeded_uniform_sample_of_mnist5k() -> None:
    dataset = load_dataset("mnist5k")
    labels = torch.cat([b.labels for b in iterate_batches(dataset, 128, max_images=500)])
    counts = torch.bincount(labels, minlength=10)
    assert counts.sum() == 500 and counts.min() >= 30 and counts.max() <= 70, counts
    again = torch.cat([b.labels for b in iterate_batches(dataset, 7, max_images=500)])
    assert torch.equal(labels, again)  # the same images whatever the batch size
    other = torch.cat([b.labels for b in iterate_batches(dataset, 128, 500, seed=1)])
    assert not torch.equal(labels, other)
    assert subset_protocol(dataset, 500)["selection"].startswith("uniform random sample")
    loader = DataLoader(dataset, batch_size=64)  # a plain loader is read through its dataset
    via_loader = torch.cat([b.labels for b in iterate_batches(loader, 128, max_images=500)])
    assert torch.equal(labels, via_loader)


def test_metric_specs_take_options_and_a_positional_space() -> None:
    assert parse_metric_spec("fd:vgg16:weights=/w/v.pth,layer=x") == (
        "fd",
        {"feature_space": "vgg16", "weights": "/w/v.pth", "layer": "x"},
    )
    assert parse_metric_spec("kid:subsets=10") == ("kid", {"subsets": 10})
    assert split_specs("fd:vgg16:weights=/a:b,k=1,lpips-div,kid:subsets=2") == [
        "fd:vgg16:weights=/a:b,k=1",
        "lpips-div",
        "kid:subsets=2",
    ]
    assert parse_metric_spec("kid:vgg16:subsets=1") == (
        "kid",
        {"feature_space": "vgg16", "subsets": 1},
    )
    with pytest.raises(MetricError, match=re.escape("Did you mean 'density-coverage'")):
        metrics.evaluate(torch.zeros(4, 1, 32, 32), torch.zeros(4, 1, 32, 32), "density-coverag")
    with pytest.raises(MetricError, match="unknown option"):
        metrics.evaluate(torch.zeros(4, 1, 32, 32), torch.zeros(4, 1, 32, 32), "lpips-div:k=3")


def test_space_options_reach_the_feature_space(real: torch.Tensor) -> None:
    with pytest.warns(UserWarning, match="random"):
        result = metrics.evaluate(real[:40], real, ["fd:mnist-features:pretrained=false"])
    descriptor = result.metrics[SPACE].protocol["feature_space"]
    assert "random" in str(descriptor).lower()
    assert result.metrics[SPACE].protocol["metric_spec"] == "fd:mnist-features:pretrained=false"


def test_a_plugin_metric_and_dataset_work_by_name(install_distribution, real) -> None:
    source = """
from gan_regularizers import hookimpl

def mean_gap(feature_space="mnist-features"):
    from gan_regularizers.metrics import FrechetDistance
    return FrechetDistance(feature_space, alias="mean-gap")

def digits(image_size=32, count=100):
    from gan_regularizers.data.sources import load_dataset
    from torch.utils.data import Subset
    return Subset(load_dataset("mnist5k", image_size), range(0, 5000, 5000 // count))

@hookimpl
def register_metrics(register):
    register("mean-gap", mean_gap)

@hookimpl
def register_datasets(register):
    register("digits", digits)
"""
    install_distribution("gr-extra", {"extra": "gr_extra"}, {"gr_extra": source})
    result = metrics.evaluate(real.flip(0)[:50], "digits:count=100", ["mean-gap"])
    assert result.metrics["mean-gap"].value == pytest.approx(
        expected_fd(real, real.flip(0)[:50]), rel=1e-6
    )


def test_the_readme_snippet_runs(tmp_path: Path, monkeypatch) -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    snippet = text.split("## Score your own generator in five lines", 1)[1]
    code = snippet.split("```python", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    result = namespace["result"]
    expected = {"fd:mnist-evaluator", "precision", "recall", "modes", "modes-accepted", "modes-kl"}
    assert set(result.metrics) == expected
    assert result.metrics["precision"].n_fake == 200 and result.metrics["precision"].n_real == 500
    assert result.metrics["fd:mnist-evaluator"].value > 0
    # an untrained generator makes no digit the evaluator accepts
    assert result.metrics["modes-accepted"].value < 0.05
    assert result.protocol["real_subset"]["selection"].startswith("uniform random sample")


def test_metrics_evaluate_stays_the_function_after_any_import() -> None:
    import gan_regularizers.metrics.evaluation  # noqa: F401  (a submodule import)

    assert callable(metrics.evaluate) and metrics.evaluate.__name__ == "evaluate"
