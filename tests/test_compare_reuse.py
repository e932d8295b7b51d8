"""``compare`` reuses a stored number only when every argument that changes it matches."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from gan_regularizers.commands.compare import compare_runs
from gan_regularizers.metrics import store
from gan_regularizers.metrics.evaluate import resolve_metric

BASE = {
    "num_samples": 20,
    "max_images": 100,
    "pairs": 10,
    "seed": 0,
    "progress": False,
    "device": "cpu",
}


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GAN_REGULARIZERS_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    from gan_regularizers import train

    root = tmp_path_factory.mktemp("runs")
    for label in ("a", "b"):
        train(
            None,
            data="mnist5k",
            steps=1,
            batch_size=8,
            g_width=4,
            d_width=4,
            quiet=True,
            run_dir=str(root / label),
            fit_cache=False,
            tensorboard=False,
            seed=ord(label),
        )
    return [root / "a", root / "b"]


def entries(run: Path) -> list[dict]:
    return json.loads((run / "metrics.json").read_text())["entries"]


def compare(runs: list[Path], metrics: list[str], **changes) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # random-weights warnings of the mechanics checks
        return compare_runs(runs, metrics=metrics, **{**BASE, **changes})


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
