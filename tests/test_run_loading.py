"""Loading a run for evaluation: the EMA generator when the checkpoint has one, the spaces."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tiny_runs import train_tiny_mnist_run

from gan_regularizers.errors import GanRegularizersError
from gan_regularizers.training.checkpoint import CHECKPOINT_NAME, load_checkpoint, save_atomic
from gan_regularizers.training.run_loading import load_run, regularizer_spaces


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("run") / "plain"
    train_tiny_mnist_run(folder)
    return folder


def test_the_ema_generator_is_preferred_and_named(run: Path, tmp_path: Path) -> None:
    loaded = load_run(run)
    assert loaded.weights == "generator" and loaded.z_dim == 100
    state = load_checkpoint(run)
    state["generator_ema"] = {
        k: torch.full_like(v, 0.5) if v.is_floating_point() else v
        for k, v in state["generator"].items()
    }
    copy = tmp_path / "ema"
    save_atomic(state, copy / CHECKPOINT_NAME)
    ema = load_run(copy)
    assert ema.weights == "generator_ema"
    first = next(iter(ema.generator.parameters()))
    assert torch.all(first == 0.5)


def test_an_unknown_architecture_is_a_clear_error(run: Path, tmp_path: Path) -> None:
    state = load_checkpoint(run)
    state["config"]["architecture"] = "dcgna:g_width=4,d_width=4"
    save_atomic(state, tmp_path / "x" / CHECKPOINT_NAME)
    with pytest.raises(GanRegularizersError, match=r"Unknown architecture 'dcgna'.*'dcgan'"):
        load_run(tmp_path / "x")


def test_the_architecture_is_rebuilt_through_the_registry(run: Path) -> None:
    loaded = load_run(run)
    state = load_checkpoint(run)
    assert state["architecture"]["spec"] == loaded.architecture == "dcgan:g_width=4,d_width=4"
    assert state["architecture"]["channels"] == 1 and loaded.num_classes == 0
    for name, value in loaded.discriminator.state_dict().items():
        assert torch.equal(value, state["discriminator"][name])


def test_regularizer_spaces_come_from_the_spec_or_the_registered_default() -> None:
    assert regularizer_spaces(["centroid:feature_space=mnist-features"]) == ["mnist-features"]
    assert regularizer_spaces(["centroid"]) == ["vgg16"]  # declared by the centroid plugin
    assert regularizer_spaces([]) == []
