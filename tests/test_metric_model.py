"""The one metric model: a plugin's feature-space metric works in evaluate, eval and compare;
every default list runs; errors and intervals read right (issues 19 and 23)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_runs import train_two_tiny_mnist_runs

from gan_regularizers import metrics
from gan_regularizers.cli import main
from gan_regularizers.data.batches import iterate_batches
from gan_regularizers.data.sources import load_dataset
from gan_regularizers.errors import InputRangeWarning, MetricError
from gan_regularizers.metrics.evaluation import GeneratedImages
from gan_regularizers.metrics.formatting import interval_notes

REPO = Path(__file__).resolve().parents[1]
SIZES = ["--num-samples", "20", "--max-images", "50", "--device", "cpu", "--quiet"]


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GAN_REGULARIZERS_CACHE", str(tmp_path / "cache"))


def docs_python_block(page: str, marker: str) -> str:
    """The ```python block of ``docs/page`` that contains ``marker``."""
    text = (REPO / "docs" / page).read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    return next(block for block in blocks if marker in block)


@pytest.fixture
def mmd_plugin(install_distribution) -> None:
    """docs/metrics.md's RBF-MMD metric, installed as a third-party distribution."""
    source = docs_python_block("metrics.md", "class RbfMmd")
    install_distribution("gr-mmd", {"mmd": "gr_mmd"}, {"gr_mmd": source})


def numpy_mmd2(x: np.ndarray, y: np.ndarray, bandwidth: float) -> float:
    def kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.exp(-((a[:, None, :] - b[None, :, :]) ** 2).sum(-1) / (2 * bandwidth**2))

    kxx, kyy, m, n = kernel(x, x), kernel(y, y), len(x), len(y)
    within = (kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (
        n * (n - 1)
    )
    return float(within - 2 * kernel(x, y).mean())


def pixels(images: torch.Tensor) -> np.ndarray:
    """The ``pixels`` feature space by hand: grayscale repeated to RGB, flattened, float64."""
    rgb = images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images
    return rgb.double().reshape(len(images), -1).numpy()


@pytest.fixture(scope="module")
def digits() -> torch.Tensor:
    return load_dataset("mnist5k").images[::100]  # 50 digits, every class


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return train_two_tiny_mnist_runs(tmp_path_factory.mktemp("runs"))


def test_a_plugin_metric_in_evaluate_shares_the_pass_of_its_space(mmd_plugin, digits) -> None:
    fake = digits.flip(0)[:40] * 0.9
    evaluation = metrics.evaluate(fake, digits, ["mmd:bandwidth=20", "fd:pixels"])
    mmd = evaluation.metrics["mmd"]
    assert mmd.value == pytest.approx(numpy_mmd2(pixels(digits), pixels(fake), 20.0), rel=1e-9)
    assert mmd.low < mmd.value < mmd.high and (mmd.n_real, mmd.n_fake) == (50, 40)
    assert mmd.protocol["metric_spec"] == "mmd:feature_space=pixels,bandwidth=20"
    assert mmd.protocol["feature_space"]["feature_space"] == "pixels"
    # fd:pixels kept the features too (the space is shared): the factor route, same number
    expected = metrics.frechet_distance(pixels(digits), pixels(fake)).value
    assert evaluation.metrics["fd:pixels"].value == pytest.approx(expected, rel=1e-9)
    assert list(evaluation.protocol["feature_spaces"]) == ["pixels"]  # one space, one pass


def test_a_plugin_metric_in_eval_and_compare_with_interval_and_reuse(
    mmd_plugin, runs, tmp_path, capsys
) -> None:
    from gan_regularizers.training.run_loading import load_run

    assert main(["eval", str(runs[0]), "--metrics", "mmd:bandwidth=20", *SIZES]) == 0
    stored = json.loads((runs[0] / "metrics.json").read_text())["metrics"]["mmd"]
    run = load_run(runs[0])
    fake = torch.cat(list(GeneratedImages(run.generator, 20, run.z_dim, seed=0)))
    real = torch.cat([b.images for b in iterate_batches(load_dataset("mnist5k"), 64, 50)])
    assert stored["value"] == pytest.approx(numpy_mmd2(pixels(real), pixels(fake), 20.0), rel=1e-9)
    assert stored["low"] < stored["value"] < stored["high"]
    out = tmp_path / "cmp"
    command = ["compare", *map(str, runs), "--metrics", "mmd:bandwidth=20", "--out", str(out)]
    assert main([*command, *SIZES]) == 0
    text = (out / "comparison.md").read_text()
    assert "| mmd |" in text
    reused = "reused from metrics.json: mmd:feature_space=pixels,bandwidth=20"
    assert f"{runs[0].name}: {reused}" in text
    assert f"{runs[1].name}: reused" not in text  # evaluated now, stored for next time
    assert main([*command, *SIZES]) == 0
    assert f"{runs[1].name}: reused from metrics.json" in (out / "comparison.md").read_text()
    assert main([*command[:-1], str(tmp_path / "cmp2"), "--seed", "1", *SIZES]) == 0
    assert "reused" not in (tmp_path / "cmp2" / "comparison.md").read_text()  # another protocol


@pytest.mark.parametrize(
    ("spec", "names", "functional"),
    [
        ("kid:feature_space=pixels,subsets=5,subset_size=20", ["kid"], "kernel_distance"),
        ("precision-recall:pixels", ["precision", "recall"], "precision_recall"),
        ("density-coverage:pixels", ["density", "coverage"], "density_coverage"),
    ],
)
def test_a_list_without_a_frechet_metric_works(spec, names, functional, digits) -> None:
    """Issue 23: KID, precision/recall or density/coverage alone failed with '0 sample(s)'."""
    fake = digits.flip(0)[:30] * 0.8
    evaluation = metrics.evaluate(fake, digits, [spec])
    options = {"subsets": 5, "subset_size": 20} if functional == "kernel_distance" else {}
    expected = getattr(metrics, functional)(pixels(digits), pixels(fake), **options)
    results = expected.results() if hasattr(expected, "results") else {"kid": expected}
    for name in names:
        assert evaluation.metrics[name].value == pytest.approx(results[name].value, rel=1e-12)
    assert evaluation.protocol["num_real"] == 50 and evaluation.protocol["num_fake"] == 30


def test_image_metrics_alone_work_and_the_real_count_is_none(digits) -> None:
    evaluation = metrics.evaluate(digits.flip(0)[:30], digits, ["modes"])
    assert evaluation.metrics["modes-accepted"].value > 0.5  # real digits are accepted
    assert evaluation.protocol["num_real"] is None


@pytest.mark.parametrize("function", ["kernel_distance", "precision_recall", "density_coverage"])
def test_features_of_different_dimensions_are_a_clear_error(function: str) -> None:
    with pytest.raises(MetricError, match=r"3 dimensions, generated ones 4.*same feature space"):
        getattr(metrics, function)(torch.randn(10, 3), torch.randn(10, 4))


def test_bad_metric_options_are_clear_errors(digits) -> None:
    for spec, message in [
        ("kid:subsets=abc", r"kid: subsets must be an integer ≥ 1, got 'abc'"),
        ("kid:subset_size=1", r"subset_size must be an integer ≥ 2, got 1"),
        ("precision-recall:k=0", r"k .* must be an integer ≥ 1, got 0"),
        ("kid:space=pixels", r"no option 'space'.*feature_space="),
    ]:
        with pytest.raises(MetricError, match=message):
            metrics.evaluate(digits, digits, [spec])
    with pytest.raises(MetricError, match="subsets must be an integer"):
        metrics.kernel_distance(torch.randn(5, 2), torch.randn(5, 2), subsets="abc")


def test_fakes_in_zero_one_warn_as_train_and_fit_do(digits) -> None:
    with pytest.warns(InputRangeWarning, match=r"generated image value is ≥ 0.*x \* 2 - 1"):
        metrics.evaluate((digits[:20] + 1) / 2, digits, ["fd:pixels"])


def test_a_metric_object_without_the_contract_is_a_clear_error(digits) -> None:
    from gan_regularizers.errors import PluginContractError

    with pytest.raises(PluginContractError, match=r"without .*spec.*contracts.Metric"):
        metrics.evaluate(digits, digits, [object()])


def test_states_reset_and_combine_by_their_declared_reduction() -> None:
    class Counting(metrics.Metric):
        name = "counting"

        def __init__(self) -> None:
            super().__init__()
            self.add_state("total", torch.zeros(()), dist_reduce_fx="sum")
            self.add_state("seen", [], dist_reduce_fx="cat")

        def update(self, values, *, real=False, indices=None) -> None:
            self.total = self.total + values.sum()
            self.seen.append(len(values))

        def compute(self, context=None):
            result = metrics.MetricResult(self.name, float(self.total), n_fake=sum(self.seen))
            return metrics.Results({self.name: result})

    metric = Counting()
    metric.update(torch.ones(3))
    metric.update(torch.ones(2))
    assert metric.compute().value == 5.0 and metric.compute().n_fake == 5
    metric.update(torch.ones(1))  # compute restored the local states: update goes on
    assert metric.compute().value == 6.0
    metric.reset()
    assert metric.compute().value == 0.0 and metric.seen == []
    with pytest.raises(MetricError, match="dist_reduce_fx must be one of"):
        metric.add_state("bad", 0, dist_reduce_fx="median")


def test_prepare_and_compute_see_the_real_data_as_loaded() -> None:
    class Reading(metrics.Metric):
        name = "reading"

        def __init__(self) -> None:
            super().__init__()
            self.seen: list = []

        def prepare(self, context) -> None:
            self.seen.append(context.reference)

        def update(self, values, *, real=False, indices=None) -> None:
            pass

        def compute(self, context=None):
            self.seen.append(context.reference)
            return metrics.Results({self.name: metrics.MetricResult(self.name, 0.0)})

    metric = Reading()
    metrics.evaluate(torch.zeros(4, 1, 8, 8) - 0.5, "synthetic:num_images=4", [metric])
    loaded = metric.seen[0]
    assert [type(x).__name__ for x in metric.seen] == ["TensorImages", "TensorImages"]
    assert metric.seen[1] is loaded and len(loaded) == 4 and loaded.image_size == 8
    assert metrics.EvalContext().reference is None  # outside the engine: none


def test_kid_whose_subsets_all_hold_every_sample_has_no_interval() -> None:
    real, fake = torch.randn(30, 4, dtype=torch.float64), torch.randn(30, 4, dtype=torch.float64)
    result = metrics.kernel_distance(real, fake, subsets=10, subset_size=1000)
    assert result.low is None and result.high is None
    assert "every subset holds all 30 samples" in result.protocol["interval"]
    assert "no interval: every subset holds all 30" in metrics.format_result(result)
    smaller = metrics.kernel_distance(real, fake, subsets=10, subset_size=20)
    assert smaller.low < smaller.high
    one = metrics.kernel_distance(real, fake, subsets=1, subset_size=20)
    assert metrics.format_result(one).endswith("(no interval: one subset: give subsets > 1 …)")


def test_the_modes_kl_interval_holds_its_estimate() -> None:
    """A perfectly even histogram: KL = 0, every bootstrap KL > 0. The percentile interval was
    above the estimate; the bias-corrected one starts at 0 and holds it."""
    from gan_regularizers.metrics.image_metrics import kl_interval
    from gan_regularizers.metrics.mode_coverage import class_coverage

    even = torch.arange(200) % 10
    low, high = kl_interval(even, 10, seed=0)
    assert class_coverage(even, 10).kl_to_uniform == pytest.approx(0.0, abs=1e-15)
    assert low == 0.0 < high < 0.1
    skewed = torch.cat([torch.zeros(60, dtype=torch.long), torch.arange(140) % 10])
    value = class_coverage(skewed, 10).kl_to_uniform
    low, high = kl_interval(skewed, 10, seed=0)
    assert 0.0 <= low <= value <= high


def test_a_value_outside_its_interval_is_marked_with_a_note() -> None:
    outside = {"value": 0.0004, "low": 0.0017, "high": 0.0116, "protocol": {}}
    assert metrics.format_result(outside) == "0.0004 [0.0017, 0.0116]†"
    (note,) = interval_notes([outside])
    assert "outside its own 95 % interval" in note
    degenerate = {"value": 0.5, "low": 0.5, "high": 0.5, "protocol": {}}
    assert "[0.5, 0.5]" not in metrics.format_result(degenerate)


def test_seed_intervals_of_bounded_metrics_stay_in_their_range() -> None:
    values = [0.1, 0.95, 0.9]  # a wide spread over 3 seeds: the t-interval leaves [0, 1]
    plain = metrics.seed_summary(values)
    assert plain.low < 0 and plain.high > 1
    bounded = metrics.seed_summary(values, bounds=metrics.metric_range("precision"))
    assert (bounded.low, bounded.high) == (0.0, 1.0) and bounded.clipped
    assert bounded.mean == plain.mean and not plain.clipped
    modes = metrics.seed_summary([1, 9, 2], bounds=metrics.metric_range("modes"))
    assert modes.low == 0.0 and modes.high > 9 and modes.clipped
    assert metrics.metric_range("kid") == (None, None)  # unbiased: may be negative
    assert metrics.metric_range("fd:mnist-evaluator") == (0.0, None)
    assert math.isfinite(modes.sd)


def test_the_docs_stored_statistics_snippet_runs(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(docs_python_block("metrics.md", "frechet_distance_from_statistics"), namespace)
    direct = metrics.frechet_distance(namespace["real"], namespace["fake"]).value
    assert namespace["result"].value == pytest.approx(direct, rel=1e-9)


def test_the_docs_stateful_snippet_runs() -> None:
    namespace: dict = {}
    exec(docs_python_block("metrics.md", "metrics.FrechetDistance("), namespace)
    assert namespace["fd"].compute().value > 0


@pytest.mark.parametrize("name", ["fid", "fd", "fd-dinov2", "kid", "precision-recall",
                                  "density-coverage", "lpips-div", "modes",
                                  "mixture-coverage"])  # fmt: skip
def test_every_built_in_metric_keeps_the_contract(name: str) -> None:
    from gan_regularizers.plugin_system.contracts import Metric
    from gan_regularizers.plugin_system.registry import get_metric, list_metrics

    assert name in list_metrics()
    metric = get_metric(name, **({"feature_space": "pixels"} if name == "fd" else {}))
    assert isinstance(metric, Metric) and isinstance(metric, metrics.Metric)
    assert metric.spec.startswith(name)


def test_the_engine_checks_exactly_the_members_of_the_contract() -> None:
    import inspect

    from gan_regularizers.metrics.evaluation import CONTRACT
    from gan_regularizers.plugin_system.contracts import Metric

    methods = {n for n, v in vars(Metric).items() if inspect.isfunction(v) and n[0] != "_"}
    assert set(CONTRACT) == set(Metric.__annotations__) | methods


def test_the_docs_evaluate_snippet_runs() -> None:
    namespace: dict = {}
    exec(docs_python_block("metrics.md", "DCGANGenerator"), namespace)
    result = namespace["result"]
    assert result.metrics["fd:mnist-evaluator"].n_fake == 200
    assert result.metrics["modes-accepted"].value < 0.05  # an untrained generator: no digits
