"""``compare`` reuses a stored number only when every argument that changes it matches."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from tiny_runs import train_two_tiny_mnist_runs

from gan_regularizers.commands.compare import compare_runs
from gan_regularizers.commands.eval import EvaluationSettings
from gan_regularizers.metrics import store
from gan_regularizers.metrics.evaluation import resolve_metric

BASE = {
    "num_samples": 20,
    "max_images": 100,
    "pairs": 10,
    "seed": 0,
    "progress": False,
    "device": "cpu",
}


pytestmark = pytest.mark.usefixtures("isolated_cache")  # tests/conftest.py


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return train_two_tiny_mnist_runs(tmp_path_factory.mktemp("runs"))


def entries(run: Path) -> list[dict]:
    return json.loads((run / "metrics.json").read_text())["entries"]


def compare(runs: list[Path], metrics: list[str], **changes) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # random-weights warnings of the mechanics checks
        settings = EvaluationSettings(**{**BASE, **changes})
        return compare_runs(runs, metrics=metrics, settings=settings)


def test_a_stored_number_is_reused_only_under_the_same_protocol(runs, monkeypatch) -> None:
    metrics = ["fd:mnist-classifier"]
    first = compare(runs, metrics)
    assert first["a"]["reused"] == [] and len(entries(runs[0])) == 1
    again = compare(runs, metrics)
    assert again["a"]["reused"] == ["fd:mnist-classifier"] and len(entries(runs[0])) == 1
    assert again["a"]["metrics"] == first["a"]["metrics"]
    changes = [{"num_samples": 24}, {"max_images": 120}, {"seed": 1}]
    for count, change in enumerate(changes, start=2):
        result = compare(runs, metrics, **change)
        assert result["a"]["reused"] == [], change
        assert len(entries(runs[0])) == count, change  # accumulated, not overwritten
    other_weights = compare(runs, ["fd:mnist-classifier:pretrained=false"])  # descriptor differs
    assert other_weights["a"]["reused"] == [] and len(entries(runs[0])) == 5
    monkeypatch.setattr(store, "__version__", "999.0")
    assert compare(runs, metrics)["a"]["reused"] == []
    stored = {e["fields"]["num_samples"] for e in entries(runs[0])}
    assert stored == {20, 24}


def test_lpips_pairs_and_the_random_trunk_change_the_key() -> None:
    run = {"step": 1, "weights": "generator"}
    settings = {"num_samples": 20, "max_images": None, "seed": 0, "run": run}

    def key(spec: str, pairs: int) -> str:
        return store.reuse_key(store.reuse_fields(resolve_metric(spec), pairs=pairs, **settings))

    assert key("lpips-div", 10) != key("lpips-div", 11)
    assert key("lpips-div", 10) != key("lpips-div:pretrained=false", 10)
    assert key("fd:mnist-classifier", 10) == key("fd:mnist-classifier", 11)  # pairs unused
    ema = {**settings, "run": {"step": 1, "weights": "generator_ema"}}
    lpips = resolve_metric("lpips-div")
    assert store.reuse_key(store.reuse_fields(lpips, pairs=10, **ema)) != key("lpips-div", 10)


def test_metrics_json_of_an_older_format_is_not_reused(runs) -> None:
    path = runs[1] / "metrics.json"
    backup = path.read_text() if path.exists() else None
    path.write_text(json.dumps({"metrics": {"fd:mnist-classifier": {"value": 1.0}}}))
    assert store.read_entries(path) == []
    if backup is not None:
        path.write_text(backup)
    else:  # leave the shared run as it was (the next test reads its metrics.json)
        path.unlink()


def test_eval_takes_metric_options_from_the_command_line(runs, capsys) -> None:
    from gan_regularizers.cli import main

    before = len(entries(runs[1])) if (runs[1] / "metrics.json").exists() else 0
    code = main(
        [
            "eval",
            str(runs[1]),
            "--num-samples",
            "20",
            "--max-images",
            "50",
            "--device",
            "cpu",
            "--metrics",
            "fd:mnist-features:pretrained=false,kid:feature_space=mnist-features,"
            "subsets=2,subset_size=10",
            "--quiet",
        ]
    )
    assert code == 0
    new = entries(runs[1])[before:]
    assert [e["fields"]["metric_spec"] for e in new] == [
        "fd:mnist-features:pretrained=false",
        "kid:feature_space=mnist-features,subsets=2,subset_size=10,degree=3",
    ]
    protocol = new[0]["protocol"]
    assert protocol["num_real"] == 50 and protocol["num_fake"] == 20
    assert protocol["real_subset"]["selection"].startswith("uniform random sample")
    assert protocol["generator_weights"] == "generator"
    out = capsys.readouterr().out
    assert "kid: " in out and "sampling intervals" in out


def test_compare_prefers_fd_dinov2_when_its_weights_are_available(
    install_distribution, tmp_path, monkeypatch
) -> None:
    from gan_regularizers import list_feature_spaces
    from gan_regularizers.commands.compare import independent_metrics
    from gan_regularizers.metrics.neutral import dinov2_availability

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    if "dinov2" not in list_feature_spaces():  # a stand-in until the real space is installed
        source = (
            "from gan_regularizers import hookimpl\n"
            "@hookimpl\n"
            "def register_feature_spaces(register):\n"
            "    register('dinov2', lambda **o: None)\n"
        )
        install_distribution(
            "stand-in-dinov2", {"dinov2": "standin_dinov2"}, {"standin_dinov2": source}
        )
    available, reason = dinov2_availability()
    assert not available and "fd-dinov2:weights=PATH" in reason
    names, note = independent_metrics(["fd:mnist-features"], {"mnist-features"}, object())
    assert names == ["fd:mnist-features", "fid"] and "fd-dinov2 unavailable" in note
    cache = tmp_path / "hf" / "hub" / "models--timm--vit_large_patch14_dinov2.lvd142m"
    cache.mkdir(parents=True)
    names, note = independent_metrics(["fd:mnist-features"], {"mnist-features"}, object())
    assert names == ["fd:mnist-features", "fd-dinov2", "fid"] and "fid is legacy" in note
    weights = tmp_path / "dinov2.pth"
    weights.write_bytes(b"x")
    assert dinov2_availability(str(weights)) == (True, f"weights file {weights}")
