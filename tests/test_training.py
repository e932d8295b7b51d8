"""The training loop: every loss with and without a regularizer, exact resume, the NaN stop,
atomic checkpoints, outputs and the ``train`` command. Tiny widths and 16 synthetic images."""

from __future__ import annotations

import errno
import json
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import torch
from tiny_runs import TINY
from torch import nn
from torch.utils.data import TensorDataset

from gan_regularizers import hookimpl, list_losses
from gan_regularizers.cli import main
from gan_regularizers.distributed import DistributedContext
from gan_regularizers.errors import (
    CheckpointWriteError,
    DiscriminatorSaturationWarning,
    RunFolderError,
    TrainingDataError,
    TrainingDataWarning,
)
from gan_regularizers.plugin_system.contracts import DiscriminatorBatch, LogitSummary
from gan_regularizers.training import checkpoint as checkpoint_module
from gan_regularizers.training.checkpoint import CheckpointError, load_checkpoint
from gan_regularizers.training.config import ConfigError, load_config
from gan_regularizers.training.loop import NonFiniteLossError, train
from gan_regularizers.training.metrics_log import read_metrics
from gan_regularizers.training.plots import d_summary
from gan_regularizers.training.run_builder import build_run
from gan_regularizers.training.run_folder import read_history
from gan_regularizers.training.sinks import SaturationMonitor


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


class RunningLogit(nn.Module):
    """Discriminator side, LeCam-like state: an EMA of D(x) in a buffer; ``w · (D(x) − ema)²``."""

    side = "discriminator"

    def __init__(self, weight: float = 0.1) -> None:
        super().__init__()
        self.weight = weight
        self.register_buffer("anchor", torch.zeros(()))

    def forward(self, batch: DiscriminatorBatch) -> torch.Tensor:
        logits = batch.real_logits.float()
        self.anchor.mul_(0.9).add_(0.1 * logits.detach().mean())
        return self.weight * (logits - self.anchor).square().mean()


class NoisyShift(nn.Module):
    """An augmentation with random draws and a buffer: ``x + σ·ε`` with σ counted up per call."""

    def __init__(self, sigma: float = 0.05) -> None:
        super().__init__()
        self.sigma = sigma
        self.register_buffer("calls", torch.zeros((), dtype=torch.long))
        self.diagnostics: dict[str, float] = {}

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        self.diagnostics = {"calls": float(self.calls)}
        return images + self.sigma * torch.randn_like(images)


class SigmoidSummaryLSGAN:
    """LSGAN that declares BCE's summary (to check that the loop uses what the loss says)."""

    logit_summary = LogitSummary("D(x)", torch.sigmoid, 0.5)

    def discriminator_loss(self, real_logits, fake_logits):
        return 0.5 * ((real_logits - 1).square().mean() + fake_logits.square().mean())

    def generator_loss(self, fake_logits, real_logits=None):
        return 0.5 * (fake_logits - 1).square().mean()


class TestRegularizers:
    @hookimpl
    def register_regularizers(self, register):
        register("centre-distance", CentreDistance)
        register("nan-at", NanAt)
        register("running-logit", RunningLogit)

    @hookimpl
    def register_augmentations(self, register):
        register("noisy-shift", NoisyShift)

    @hookimpl
    def register_losses(self, register):
        register("sigmoid-lsgan", SigmoidSummaryLSGAN)


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Tiny networks run faster on one thread, and do not fight parallel test runs."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def test_regularizers(register_plugin) -> None:
    register_plugin(TestRegularizers(), "training-test-regularizers")
    CentreDistance.fit_calls = []


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
        if with_regularizer:
            # the logged penalty is the module's weight times its own diagnostic distance
            assert row["reg/centre-distance"] == pytest.approx(
                0.5 * row["diag/centre-distance/mean_distance"], rel=1e-5
            )
        else:
            assert "reg/centre-distance" not in row
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
        "history.jsonl",
        "samples/step_000002.png",
        "samples/step_000004.png",
    }
    report = (tmp_path / "report.md").read_text()
    assert "Status: **finished**" in report and "![samples at the last step]" in report
    assert "(samples/step_000004.png)" in report and "(losses.png)" in report
    assert "architecture `dcgan:g_width=4,d_width=4` 32×32, batch 8" in report
    from gan_regularizers.training.report import write_run_report

    config = {**load_config(tmp_path / "config.toml").to_dict(), "architecture": "resnet:blocks=2"}
    (tmp_path / "other").mkdir()
    other = write_run_report(tmp_path / "other", config, [], [], {})
    assert "architecture `resnet:blocks=2` 32×32" in other.read_text()  # the run's, not DCGAN
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
    with pytest.raises(ConfigError, match=r"loss cannot change when resuming"):
        train(resume=tmp_path, steps=4, loss="lsgan")
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
    assert f"--resume {tmp_path} --set g_lr=... --set d_lr=..." in str(error)
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
    with pytest.raises(
        CheckpointError, match=r"truncated or not a .* training checkpoint.*Restore it"
    ):
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
    assert main(["train", "--config", str(config), "--steps", "2", "--out", str(run),
                 "--set", "log_every=1", "--loss", "lsgan"]) == 0  # fmt: skip
    assert "trained 2 steps" in capsys.readouterr().out
    assert 'loss = "lsgan"' in (run / "config.toml").read_text()
    assert main(["train", "--resume", str(run), "--steps", "3", "--quiet"]) == 0
    assert [row["step"] for row in read_metrics(run)] == [1, 2, 3]
    assert main(["train", "--config", str(config), "--set", "stepz=3"]) == 1
    assert "Unknown config key 'stepz'" in capsys.readouterr().err


# -- per-loss logging, both players, EMA -------------------------------------------------------


@pytest.mark.parametrize(
    ("loss", "label", "equilibrium"),
    [("hinge", "mean D(x)", None), ("lsgan", "mean D(x)", 0.5), ("sigmoid-lsgan", "D(x)", 0.5)],
)
def test_logged_d_outputs_are_the_losss_summary(
    loss: str, label: str, equilibrium: float | None, tmp_path: Path, test_regularizers: None
) -> None:
    options = {**TINY, "loss": loss, "steps": 1, "log_every": 1}
    # the same D on the same first batch, built independently: its summary before the update
    run = build_run(load_config(None, options), None, None, torch.device("cpu"),
                    DistributedContext(0, 1, 0, False), tmp_path / "built")  # fmt: skip
    logits = run.discriminator(next(iter(run.stream))).detach()
    expected = torch.sigmoid(logits).mean() if label == "D(x)" else logits.mean()
    train(**options, run_dir=str(tmp_path / "run"))
    (row,) = read_metrics(tmp_path / "run")
    assert row["d_real"] == pytest.approx(float(expected), rel=1e-6)
    assert (row["d_label"], row["d_equilibrium"]) == (label, equilibrium)
    assert d_summary({"run": [row]}) == (label, equilibrium)
    report = (tmp_path / "run" / "report.md").read_text()
    assert f"| {label} on real images" in report
    assert ("equilibrium 0.5" in report) == (equilibrium is not None)


def test_resume_is_bit_exact_with_ema_augmentation_and_stateful_d_regularizer(
    tmp_path: Path, test_regularizers: None
) -> None:
    options = {
        **TINY,
        "regularizers": ["running-logit:weight=0.2,every=3"],
        "augment": "noisy-shift:sigma=0.1",
        "ema_decay": 0.9,
        "loss": "sigmoid-lsgan",  # takes real_logits: D(T(x)) in the G step too
        "log_every": 5,
        "checkpoint_every": 5,
    }
    straight = train(**options, steps=20, run_dir=str(tmp_path / "straight"))
    train(**options, steps=10, run_dir=str(tmp_path / "split"))
    resumed = train(resume=tmp_path / "split", steps=20)
    assert straight.generator_ema is not None
    modules = ("generator", "discriminator", "generator_ema")
    for name in modules:
        a, b = getattr(straight, name).state_dict(), getattr(resumed, name).state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a), name
    anchor = straight.regularizers["running-logit"].anchor
    assert torch.equal(anchor, resumed.regularizers["running-logit"].anchor)
    assert float(anchor) != 0.0
    state = load_checkpoint(tmp_path / "split")
    # before every D call (BCE asks for no D(x) in the G step: 3 per step), restored on resume
    assert int(state["augment"]["calls"]) == 20 * 3
    assert not torch.equal(
        state["generator_ema"]["net.0.weight"], state["generator"]["net.0.weight"]
    )
    rows = read_metrics(tmp_path / "split")
    assert rows[-1]["diag/augment/calls"] == 60.0
    # lazy every=3: the regularizer ran on steps 1, 4, 7, …: its interval mean is ≠ 0
    assert all(row["reg/running-logit"] != 0 for row in rows)
    assert "G-EMA decay 0.9" in (tmp_path / "split" / "report.md").read_text()


def test_ready_modules_are_accepted_as_regularizers(tmp_path: Path) -> None:
    CentreDistance.fit_calls = []
    module = CentreDistance(weight=0.5)
    result = train(**TINY, steps=2, regularizers=[module], run_dir=str(tmp_path))
    assert result.regularizers["CentreDistance"] is module and int(module.calls) == 2
    assert CentreDistance.fit_calls == [{"size": 16, "cache": True}]
    assert 'regularizers = ["<module: CentreDistance>"]' in (tmp_path / "config.toml").read_text()
    with pytest.raises(ConfigError, match=r"regularizers=\[module\]"):
        train(resume=tmp_path, steps=3)
    assert train(resume=tmp_path, steps=3, regularizers=[CentreDistance(0.5)]).step == 3


def test_learning_rates_may_change_on_resume_and_are_recorded(tmp_path: Path) -> None:
    train(**TINY, steps=2, plots=False, run_dir=str(tmp_path))
    assert not list(tmp_path.glob("*.png"))  # plots = false: no curves (no matplotlib import)
    train(resume=tmp_path, steps=3, g_lr=1e-3, d_lr=5e-5)
    state = load_checkpoint(tmp_path)
    assert state["g_optimizer"]["param_groups"][0]["lr"] == 1e-3
    assert state["d_optimizer"]["param_groups"][0]["lr"] == 5e-5
    history = read_history(tmp_path)
    assert [h["event"] for h in history] == ["start", "resume"]
    assert history[1]["step"] == 2
    assert history[1]["changed"] == {"steps": [2, 3], "g_lr": [2e-4, 1e-3], "d_lr": [2e-4, 5e-5]}
    report = (tmp_path / "report.md").read_text()
    assert (
        "resume at step 2 (`steps` 2 → 3, `g_lr` 0.0002 → 0.001, `d_lr` 0.0002 → 5e-05)" in report
    )


# -- reliability -----------------------------------------------------------------------------------


def test_a_users_folder_is_never_written_into(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "report.md").write_text("my notes")
    with pytest.raises(RunFolderError, match=r"is not empty \(report.md\) and is not a training"):
        train(**TINY, steps=1, run_dir=str(folder))
    assert (folder / "report.md").read_text() == "my notes"
    assert sorted(p.name for p in folder.iterdir()) == ["report.md"]
    ours = tmp_path / "ours"
    train(**TINY, steps=1, run_dir=str(ours))
    (ours / "checkpoint.pt").unlink()  # a run of ours without a checkpoint may be started again
    (ours / "samples" / "step_000007.png").write_bytes(b"an old grid of ours")
    assert train(**TINY, steps=1, run_dir=str(ours)).step == 1
    assert [p.name for p in (ours / "samples").iterdir()] == ["step_000001.png"]


def test_a_user_dataset_is_recorded_and_its_range_checked(tmp_path: Path) -> None:
    data = _tiny_dataset()
    train(**TINY, steps=1, dataset=data, run_dir=str(tmp_path / "a"))
    recorded = '"<user dataset: TensorImages, 8 images>"'
    assert f"data = {recorded}" in (tmp_path / "a" / "config.toml").read_text()
    assert (
        "Data `<user dataset: TensorImages, 8 images>`"
        in (tmp_path / "a" / "report.md").read_text()
    )
    with pytest.raises(ConfigError, match=r"pass it again: train\(resume=RUN_DIR, dataset="):
        train(resume=tmp_path / "a", steps=2)
    assert train(resume=tmp_path / "a", steps=2, dataset=data).step == 2
    pixels = TensorDataset((data.images + 1) * 127.5, data.labels)
    with pytest.raises(TrainingDataError, match=r"range over \[0, 255\].*x / 127.5 - 1"):
        train(**TINY, steps=1, dataset=pixels, run_dir=str(tmp_path / "b"))
    unit = TensorDataset((data.images + 1) / 2, data.labels)
    with pytest.warns(TrainingDataWarning, match=r"look like \[0, 1\].*x \* 2 - 1"):
        train(**TINY, steps=1, dataset=unit, run_dir=str(tmp_path / "c"))


def test_a_saturated_discriminator_warns_once() -> None:
    monitor = SaturationMonitor(LogitSummary("D(x)", torch.sigmoid, 0.5), limit=3)
    saturated = {"loss_d": 1e-4, "d_real": 0.999, "d_fake": 0.001}
    healthy = {"loss_d": 1.3, "d_real": 0.6, "d_fake": 0.4}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for step, row in enumerate([saturated, saturated, healthy, saturated, saturated], 1):
            monitor.check({"step": step, **row})  # never 3 in a row: no warning
    with pytest.warns(DiscriminatorSaturationWarning, match=r"saturated for 3 logged intervals"):
        monitor.check({"step": 6, **saturated})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        monitor.check({"step": 7, **saturated})  # once only
    raw = SaturationMonitor(LogitSummary(), limit=1)
    assert raw.saturated({"loss_d": 0.0, "d_real": 5.0, "d_fake": -5.0})
    assert not raw.saturated({"loss_d": 0.5, "d_real": 5.0, "d_fake": -5.0})


@pytest.mark.parametrize(
    "failure", [OSError(errno.ENOSPC, "No space left on device"),
                RuntimeError("[enforce fail at inline_container.cc:603] . unexpected pos 64")],
    ids=["enospc", "torch-unexpected-pos"],
)  # fmt: skip
def test_a_full_disk_keeps_the_previous_checkpoint_and_says_how_to_resume(
    failure: Exception, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    train(**TINY, steps=2, run_dir=str(tmp_path))
    before = (tmp_path / "checkpoint.pt").read_bytes()

    def disk_full(state, handle) -> None:
        handle.write(b"PK\x03\x04 part")
        raise failure

    monkeypatch.setattr(checkpoint_module.torch, "save", disk_full)
    with pytest.raises(CheckpointWriteError) as caught:
        train(resume=tmp_path, steps=4)
    monkeypatch.undo()
    message = str(caught.value)
    assert "could not write the checkpoint of step 4" in message
    assert f"to {tmp_path}: no space left on device" in message
    assert "The previous checkpoint (step 2) is kept" in message
    assert f"--resume {tmp_path}" in message
    assert (tmp_path / "checkpoint.pt").read_bytes() == before
    assert not list(tmp_path.glob(".checkpoint.pt.*"))


def test_train_command_takes_loss_regularizer_augment_ema_out_and_threads(
    tmp_path: Path, test_regularizers: None, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "tiny.toml"
    config.write_text("\n".join(f"{k} = {json.dumps(v)}" for k, v in TINY.items()) + "\n")
    run = tmp_path / "run"
    assert main(["train", "--config", str(config), "--steps", "2", "--out", str(run),
                 "--loss", "lsgan", "--regularizer", "running-logit:weight=0.1,every=2",
                 "--regularizer", "centre-distance", "--augment", "noisy-shift:sigma=0.1",
                 "--set", "ema_decay=0.99", "--threads", "1"]) == 0  # fmt: skip
    saved = load_config(run / "config.toml")
    assert saved.regularizers == ["running-logit:weight=0.1,every=2", "centre-distance"]
    assert (saved.augment, saved.ema_decay, saved.threads) == ("noisy-shift:sigma=0.1", 0.99, 1)
    assert "generator_ema" in load_checkpoint(run)
    assert main(["train", "--config", str(config), "--out", str(config), "--steps", "1"]) == 1
    assert "is a file, not a folder" in capsys.readouterr().err


class PixelSpace(nn.Module):
    """A frozen elementwise "backbone" for 1×32×32 images (1024-d features)."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.sin(3 * images.flatten(1))


def test_statistics_fitted_outside_train_are_used_without_refitting(tmp_path: Path) -> None:
    from gan_regularizers import CentroidLoss
    from gan_regularizers.data.synthetic import synthetic_images

    data = _tiny_dataset()  # 8 images; the statistics come from 12 others, so a refit would show
    other = synthetic_images(12, image_size=32, seed=5, num_classes=3)
    fitted = CentroidLoss(PixelSpace(), weight=0.5, progress=False).fit(other)
    path = fitted.save(tmp_path / "stats.pt")
    loaded = CentroidLoss.load(path, feature_space=PixelSpace(), progress=False)
    center = loaded.center.clone()
    result = train(
        **TINY, steps=2, dataset=data, regularizers=[loaded], run_dir=str(tmp_path / "r")
    )
    assert result.regularizers["CentroidLoss"] is loaded
    assert torch.equal(loaded.center, center) and int(loaded.num_images) == 12  # not refitted
    assert "reg/CentroidLoss" in read_metrics(tmp_path / "r")[-1]


# -- every registered loss with the discriminator-side toolkit ----------------------------------

_D_SIDE = ("r1", "r2", "gradient-penalty", "lecam")


def _toolkit() -> list[str]:
    """The registered discriminator-side regularizers and augmentations (built-ins when present)."""
    from gan_regularizers import list_regularizers
    from gan_regularizers.plugin_system.registry import list_augmentations

    registered = set(list_regularizers())
    extras = [f"regularizer:{name}" for name in _D_SIDE if name in registered]
    return extras + [f"augment:{name}" for name in list_augmentations()]


def _loss_extra_pairs() -> list[object]:
    """Each registered loss once and each extra once, paired round-robin: the loop's handling of
    a D-side term does not depend on the loss, so the 25-run product tested nothing more."""
    losses, extras = list_losses(), _toolkit()
    count = max(len(losses), len(extras))
    pairs = [(losses[i % len(losses)], extras[i % len(extras)]) for i in range(count)]
    return [pytest.param(loss, extra, id=f"{loss}+{extra}") for loss, extra in pairs]


@pytest.mark.parametrize(("loss", "extra"), _loss_extra_pairs())
def test_every_loss_trains_with_each_registered_d_side_plugin(
    loss: str, extra: str, tmp_path: Path
) -> None:
    kind, name = extra.split(":")
    options = {"regularizers": [f"{name}:every=2"]} if kind == "regularizer" else {"augment": name}
    result = train(**TINY, loss=loss, steps=3, log_every=1, run_dir=str(tmp_path), **options)
    rows = read_metrics(tmp_path)
    assert all(np.isfinite(row["loss_d"]) and np.isfinite(row["loss_g"]) for row in rows)
    if kind == "regularizer":  # lazy every=2: it ran on steps 1 and 3 and was added to L_D
        assert rows[1][f"reg/{name}"] == 0.0
        assert [row["loss_d"] - row["loss_d_adv"] for row in rows] == pytest.approx(
            [row[f"reg/{name}"] for row in rows], abs=1e-6
        )
    assert all(torch.isfinite(p).all() for p in result.discriminator.parameters())


@pytest.mark.parametrize("quiet", [True, False])
def test_a_quiet_run_hides_the_fit_progress_bar(
    quiet: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    spec = "centroid:feature_space=pixels,weight=0.1"
    options = {**TINY, "quiet": quiet, "steps": 1, "fit_cache": False, "plots": False}
    train(**options, regularizers=[spec], run_dir=str(tmp_path / "run"))
    shown = "centroid centre" in capsys.readouterr().err
    assert shown is not quiet
    assert "TQDM_DISABLE" not in os.environ  # restored after fit
