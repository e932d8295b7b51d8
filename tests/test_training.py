"""The training loop: every loss with and without a regularizer, exact resume, the NaN stop,
atomic checkpoints, outputs and the ``train`` command. Tiny widths and 16 synthetic images."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
import torch
from torch import nn

from gan_regularizers import hookimpl, list_losses
from gan_regularizers.cli import main
from gan_regularizers.plugin_system.manager import get_plugin_manager
from gan_regularizers.training import checkpoint as checkpoint_module
from gan_regularizers.training.checkpoint import CheckpointError, load_checkpoint
from gan_regularizers.training.config import ConfigError
from gan_regularizers.training.loop import NonFiniteLossError, train
from gan_regularizers.training.metrics_log import read_metrics

TINY = {
    "data": "synthetic:num_images=16",
    "batch_size": 8,
    "g_width": 4,
    "d_width": 4,
    "z_dim": 8,
    "num_samples": 4,
    "quiet": True,
    "tensorboard": False,
}


class CentreDistance(nn.Module):
    """weight · mean ‖x̂ − c‖² with c the mean training image, fitted by ``fit`` (a buffer)."""

    fit_calls: ClassVar[list[dict]] = []

    def __init__(self, weight: float = 0.1) -> None:
        super().__init__()
        self.weight = weight
        self.register_buffer("center", torch.zeros(0))
        self.register_buffer("calls", torch.zeros((), dtype=torch.long))
        self.diagnostics: dict[str, float] = {}

    @property
    def fitted(self) -> bool:
        return self.center.numel() > 0

    def fit(self, data, cache: bool = False, max_images: int | None = None) -> CentreDistance:
        CentreDistance.fit_calls.append({"size": len(data), "cache": cache})
        images = torch.stack([data[i][0] for i in range(len(data))])
        self.center = images.mean(0).to(self.calls.device)
        return self

    def forward(self, fake: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        distance = (fake - self.center).flatten(1).square().sum(1)
        self.diagnostics = {"mean_distance": float(distance.detach().mean())}
        return self.weight * distance.mean()


class NanAt(nn.Module):
    """Returns 0 · mean(x̂), and NaN at generator step ``step`` (counted in a buffer)."""

    def __init__(self, step: int = 3) -> None:
        super().__init__()
        self.step = step
        self.register_buffer("count", torch.zeros((), dtype=torch.long))

    def forward(self, fake: torch.Tensor) -> torch.Tensor:
        self.count += 1
        zero = 0 * fake.mean()
        return zero + float("nan") if int(self.count) == self.step else zero


class TestRegularizers:
    @hookimpl
    def register_regularizers(self, register):
        register("centre-distance", CentreDistance)
        register("nan-at", NanAt)


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Tiny networks run faster on one thread, and do not fight parallel test runs."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def test_regularizers() -> Iterator[None]:
    manager = get_plugin_manager()
    manager.register(TestRegularizers(), name="training-test-regularizers")
    CentreDistance.fit_calls = []
    try:
        yield
    finally:
        manager.unregister(name="training-test-regularizers")


def parameters(result) -> list[torch.Tensor]:
    modules = [result.generator, result.discriminator, *result.regularizers.values()]
    return [t for m in modules for t in [*m.parameters(), *m.buffers()]]


@pytest.mark.parametrize("with_regularizer", [False, True], ids=["plain", "regularized"])
@pytest.mark.parametrize("loss", list_losses())
def test_every_loss_trains_with_and_without_a_regularizer(
    loss: str, with_regularizer: bool, tmp_path: Path, test_regularizers: None
) -> None:
    regularizers = ["centre-distance:weight=0.5"] if with_regularizer else []
    result = train(
        **TINY, loss=loss, regularizers=regularizers, steps=3, log_every=1, run_dir=str(tmp_path)
    )
    rows = read_metrics(tmp_path)
    assert [row["step"] for row in rows] == [1, 2, 3]
    for row in rows:
        assert 0 < row["d_real"] < 1 and 0 < row["d_fake"] < 1
        assert row["images_per_s"] > 0
        if with_regularizer:
            # loss_g is the adversarial term plus the weighted regularizer, logged separately
            assert row["loss_g"] == pytest.approx(row["loss_g_adv"] + row["reg/centre-distance"])
            assert row["reg/centre-distance"] == pytest.approx(
                0.5 * row["diag/centre-distance/mean_distance"], rel=1e-5
            )
        else:
            assert row["loss_g"] == row["loss_g_adv"]
    if with_regularizer:
        assert CentreDistance.fit_calls == [{"size": 16, "cache": True}]
        assert int(result.regularizers["centre-distance"].calls) == 3
    assert result.step == 3 and load_checkpoint(tmp_path)["step"] == 3


def test_outputs_of_a_run(tmp_path: Path) -> None:
    train(**TINY, steps=4, log_every=2, sample_every=2, run_dir=str(tmp_path))
    names = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert names == {
        "config.toml",
        "checkpoint.pt",
        "metrics.jsonl",
        "losses.png",
        "d_outputs.png",
        "report.md",
        "samples/step_000002.png",
        "samples/step_000004.png",
    }
    report = (tmp_path / "report.md").read_text()
    assert "Status: **finished**" in report and "![samples at the last step]" in report
    assert "(samples/step_000004.png)" in report and "(losses.png)" in report
    assert "steps = 4" in (tmp_path / "config.toml").read_text()
    from PIL import Image

    with Image.open(tmp_path / "samples" / "step_000004.png") as grid:  # 2×2 grid of 32 px + pad
        assert grid.size == (2 * 32 + 3 * 2, 2 * 32 + 3 * 2)


def test_resume_is_bit_exact(tmp_path: Path, test_regularizers: None) -> None:
    options = {**TINY, "regularizers": ["centre-distance:weight=0.1"], "checkpoint_every": 5}
    straight = train(**options, steps=20, run_dir=str(tmp_path / "straight"))
    train(**options, steps=10, run_dir=str(tmp_path / "split"))
    resumed = train(resume=tmp_path / "split", steps=20)
    assert resumed.step == 20
    assert CentreDistance.fit_calls == [{"size": 16, "cache": True}] * 2  # not refitted on resume
    pairs = list(zip(parameters(straight), parameters(resumed), strict=True))
    assert len(pairs) > 10
    assert all(torch.equal(a, b) for a, b in pairs)
    assert int(resumed.regularizers["centre-distance"].calls) == 20
    # metrics continue: the resumed run appends steps 11..20 to the first run's 1..10
    steps = [row["step"] for row in read_metrics(tmp_path / "split")]
    assert steps == [row["step"] for row in read_metrics(tmp_path / "straight")]


def test_resume_refuses_changes_that_break_exactness(tmp_path: Path) -> None:
    train(**TINY, steps=2, run_dir=str(tmp_path))
    with pytest.raises(ConfigError, match=r"g_lr cannot change when resuming"):
        train(resume=tmp_path, steps=4, g_lr=1e-3)
    with pytest.raises(ConfigError, match=r"checkpoint is at step 2 but steps is 1"):
        train(resume=tmp_path, steps=1)
    with pytest.raises(ConfigError, match=r"already holds a checkpoint.*--resume"):
        train(**TINY, steps=2, run_dir=str(tmp_path))
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        train(resume=tmp_path / "nowhere")


def test_nan_stops_naming_step_and_term_and_keeps_the_last_checkpoint(
    tmp_path: Path, test_regularizers: None
) -> None:
    with pytest.raises(NonFiniteLossError) as caught:
        train(**TINY, steps=6, checkpoint_every=2, regularizers=["nan-at:step=3"],
              run_dir=str(tmp_path))  # fmt: skip
    error = caught.value
    assert (error.step, error.term) == (3, "regularizer 'nan-at'")
    assert "step 3: the regularizer 'nan-at' is nan" in str(error)
    assert "last good checkpoint (step 2)" in str(error)
    state = load_checkpoint(tmp_path)
    assert state["step"] == 2
    assert all(
        torch.isfinite(v).all() for v in state["generator"].values() if v.is_floating_point()
    )
    assert (
        "Status: **stopped at step 3: regularizer 'nan-at' was not finite**"
        in (tmp_path / "report.md").read_text()
    )


def test_a_failed_checkpoint_write_leaves_the_previous_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    train(**TINY, steps=2, run_dir=str(tmp_path))
    before = (tmp_path / "checkpoint.pt").read_bytes()

    def killed_mid_write(state, handle) -> None:
        handle.write(b"PK\x03\x04 half a checkpoint")
        raise KeyboardInterrupt  # what a kill -INT during the write looks like

    monkeypatch.setattr(checkpoint_module.torch, "save", killed_mid_write)
    with pytest.raises(KeyboardInterrupt):
        train(resume=tmp_path, steps=4)
    monkeypatch.undo()
    assert (tmp_path / "checkpoint.pt").read_bytes() == before
    assert load_checkpoint(tmp_path)["step"] == 2
    assert not list(tmp_path.glob(".checkpoint.pt.*"))
    (tmp_path / "checkpoint.pt").write_bytes(before[: len(before) // 2])
    with pytest.raises(CheckpointError, match="truncated or not a checkpoint"):
        load_checkpoint(tmp_path)


def test_bf16_autocast_trains_on_cpu(tmp_path: Path) -> None:
    result = train(**TINY, steps=2, log_every=1, amp="bf16", run_dir=str(tmp_path))
    assert all(torch.isfinite(p).all() for p in result.generator.parameters())
    assert result.generator.net[0].weight.dtype == torch.float32  # autocast, not a cast


def test_bad_names_and_options_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match=r"Unknown loss 'bcee'. Did you mean 'bce'"):
        train(**TINY, steps=1, loss="bcee", run_dir=str(tmp_path / "a"))
    with pytest.raises(
        ConfigError, match=r"config key 'loss', 'bce:temperature=2'.*unknown option"
    ):
        train(**TINY, steps=1, loss="bce:temperature=2", run_dir=str(tmp_path / "b"))
    with pytest.raises(ConfigError, match=r"'data': folder:.* no such folder"):
        train(**TINY | {"data": f"folder:{tmp_path}/none"}, steps=1, run_dir=str(tmp_path / "c"))
    with pytest.raises(ConfigError, match=r"'image_size' is 64 but the data's images are 32"):
        train(**TINY, steps=1, image_size=64, dataset=_tiny_dataset(), run_dir=str(tmp_path / "d"))


def _tiny_dataset():
    from gan_regularizers.data.synthetic import synthetic_images

    return synthetic_images(8, image_size=32)


def test_train_command_writes_a_run_and_resumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "tiny.toml"
    config.write_text("\n".join(f"{k} = {json.dumps(v)}" for k, v in TINY.items()) + "\n")
    run = tmp_path / "run"
    assert main(["train", "--config", str(config), "--steps", "2", "--run-dir", str(run),
                 "--set", "log_every=1", "--loss", "lsgan"]) == 0  # fmt: skip
    assert "trained 2 steps" in capsys.readouterr().out
    assert 'loss = "lsgan"' in (run / "config.toml").read_text()
    assert main(["train", "--resume", str(run), "--steps", "3", "--quiet"]) == 0
    assert [row["step"] for row in read_metrics(run)] == [1, 2, 3]
    assert main(["train", "--config", str(config), "--set", "stepz=3"]) == 1
    assert "Unknown config key 'stepz'" in capsys.readouterr().err
