"""The training loop's per-step duties (``contracts.LOOP_DUTIES``), each held end to end.

Every test trains a few real steps of the tiny run with *probe* plugins: outside plugins,
registered at run time like a third party's, that record what the loop called. A test fails when
the loop ignores the contract member it checks. The duty list itself is checked against this
file: each duty names its test here.
"""

from __future__ import annotations

import ast
import os
import re
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
import torch
import torch.nn.functional as F
from tiny_runs import TINY
from torch import nn

from gan_regularizers import CentroidLoss, get_loss, hookimpl, list_losses
from gan_regularizers.cli import main
from gan_regularizers.errors import DiscriminatorSaturationWarning, NonFiniteLossError
from gan_regularizers.models import dcgan
from gan_regularizers.plugin_system.contracts import LOOP_DUTIES, DiscriminatorBatch, LogitSummary
from gan_regularizers.training import loop as loop_module
from gan_regularizers.training import run_builder
from gan_regularizers.training.checkpoint import load_checkpoint
from gan_regularizers.training.config import load_config
from gan_regularizers.training.ema import ema_beta
from gan_regularizers.training.loop import train
from gan_regularizers.training.metrics_log import read_metrics
from gan_regularizers.training.sinks import SaturationMonitor

REPO = Path(__file__).resolve().parents[1]
STEPS = 12


# -- probe plugins --------------------------------------------------------------------------------
class ProbeLoss:
    """BCE that records the ``real_logits`` of every generator step; ``wants`` sets
    ``requires_real_logits``; its summary is the mean of ``tanh`` (bounded in (−1, 1))."""

    seen: ClassVar[list[torch.Tensor | None]] = []
    logit_summary = LogitSummary("tanh D", torch.tanh, 0.0, bounds=(-1.0, 1.0))

    def __init__(self, wants: bool = False) -> None:
        self.requires_real_logits = wants

    def discriminator_loss(self, real_logits, fake_logits):
        return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()

    def generator_loss(self, fake_logits, real_logits=None):
        ProbeLoss.seen.append(real_logits)
        return F.softplus(-fake_logits).mean()


class ProbeRegularizer(nn.Module):
    """Generator side: ``weight`` (a constant penalty with G's graph); records ``set_step`` and
    the training step of each call; ``diagnostics`` counts its calls; ``nan_at`` returns NaN."""

    log: ClassVar[dict[str, list[int]]] = {}

    def __init__(self, weight: float = 0.5, nan_at: int = 0, every: int = 1) -> None:
        super().__init__()
        self.weight, self.nan_at, self.every = weight, nan_at, every
        self.told = 0
        self.register_buffer("calls", torch.zeros((), dtype=torch.long))
        ProbeRegularizer.log = {"told": [], "called": []}

    def set_step(self, step: int) -> None:
        self.told = step
        ProbeRegularizer.log["told"].append(step)

    @property
    def diagnostics(self) -> dict[str, float]:
        return {"calls": float(self.calls)}

    def forward(self, fake: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        ProbeRegularizer.log["called"].append(self.told)
        value = self.weight + 0.0 * fake.mean()
        return value * float("nan") if self.told == self.nan_at else value


class ProbeDiscriminatorRegularizer(nn.Module):
    """Discriminator side, lazy state: ``weight · mean D(x)²`` and a buffer that counts calls
    and accumulates the real logits' mean (so a resume must restore it to stay exact)."""

    batches: ClassVar[list[tuple[DiscriminatorBatch, torch.Tensor]]] = []

    def __init__(self, weight: float = 0.1) -> None:
        super().__init__()
        self.weight = weight
        self.register_buffer("calls", torch.zeros((), dtype=torch.long))
        self.register_buffer("anchor", torch.zeros(()))
        ProbeDiscriminatorRegularizer.batches = []

    side = "discriminator"

    def forward(self, batch: DiscriminatorBatch) -> torch.Tensor:
        with torch.no_grad():  # D's outputs on the images as D saw them, this step
            seen = batch.discriminator(batch.real)
        ProbeDiscriminatorRegularizer.batches.append((batch, seen))
        self.calls += 1
        self.anchor.add_(batch.real_logits.detach().float().mean())
        return self.weight * (batch.real_logits.float() - self.anchor).square().mean()


class ProbeAugment(nn.Module):
    """Adds a small random shift; records every ``update`` and counts calls in buffers."""

    updates: ClassVar[list[torch.Tensor]] = []

    def __init__(self, sigma: float = 0.01) -> None:
        super().__init__()
        self.sigma = sigma
        self.register_buffer("calls", torch.zeros((), dtype=torch.long))
        self.register_buffer("logit_sum", torch.zeros((), dtype=torch.float64))
        ProbeAugment.updates = []

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return images + self.sigma * torch.randn_like(images)

    def update(self, real_logits: torch.Tensor) -> None:
        ProbeAugment.updates.append(real_logits)
        self.logit_sum += real_logits.double().sum()

    @property
    def diagnostics(self) -> dict[str, float]:
        return {"updates": float(len(ProbeAugment.updates))}


class ProbeFittable(nn.Module):
    """``fit`` records its data's size; ``fitted`` is a buffer, so a resume restores it."""

    fits: ClassVar[list[int]] = []

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("fitted_size", torch.zeros((), dtype=torch.long))

    @property
    def fitted(self) -> bool:
        return int(self.fitted_size) > 0

    def fit(self, data, **options) -> ProbeFittable:
        ProbeFittable.fits.append(len(data))
        self.fitted_size.fill_(len(data))
        return self

    def forward(self, fake: torch.Tensor) -> torch.Tensor:
        return 0.0 * fake.mean()


class InterruptAt(nn.Module):
    """Raises KeyboardInterrupt once: at the start of step ``at`` (``where="start"``, from
    ``set_step``) or in the middle of it (``where="middle"``, from the G-side call), or sends the
    process a real SIGINT in the middle of it (``where="signal"``)."""

    armed: ClassVar[bool] = True

    def __init__(self, at: int = 3, where: str = "start") -> None:
        super().__init__()
        self.at, self.where, self.told = at, where, 0

    def set_step(self, step: int) -> None:
        self.told = step
        if self.where == "start":
            self._maybe_raise()

    def _maybe_raise(self) -> None:
        if self.told == self.at and InterruptAt.armed:
            InterruptAt.armed = False
            raise KeyboardInterrupt

    def forward(self, fake: torch.Tensor) -> torch.Tensor:
        if self.where == "middle":
            self._maybe_raise()
        if self.where == "signal" and self.told == self.at and InterruptAt.armed:
            InterruptAt.armed = False
            os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C, in the middle of the step
        return 0.0 * fake.mean()


class ProbeBatchRegularizer(nn.Module):
    """Generator side with ``needs_batch``: records each GeneratorBatch; with ``adapt``, which
    records ``(step, images)`` of each call."""

    needs_batch = True
    batches: ClassVar[list[object]] = []
    adapted: ClassVar[list[tuple[int, int]]] = []

    def __init__(self) -> None:
        super().__init__()
        self.told = 0
        ProbeBatchRegularizer.batches, ProbeBatchRegularizer.adapted = [], []

    def set_step(self, step: int) -> None:
        self.told = step

    def adapt(self, images: int) -> None:
        ProbeBatchRegularizer.adapted.append((self.told, images))

    def forward(self, batch) -> torch.Tensor:
        frozen = not any(p.requires_grad for p in batch.discriminator.parameters())
        ProbeBatchRegularizer.batches.append((batch, frozen))
        return 0.0 * batch.fake.mean()


class Probes:
    @hookimpl
    def register_losses(self, register):
        register("probe-loss", ProbeLoss)

    @hookimpl
    def register_regularizers(self, register):
        register("probe-reg", ProbeRegularizer)
        register("probe-d-reg", ProbeDiscriminatorRegularizer)
        register("probe-fit", ProbeFittable)
        register("interrupt-at", InterruptAt)
        register("probe-batch", ProbeBatchRegularizer)

    @hookimpl
    def register_augmentations(self, register):
        register("probe-augment", ProbeAugment)


@pytest.fixture(autouse=True)
def probes(register_plugin) -> Iterator[None]:
    """The probe plugins, registered as an outside plugin is; one thread for tiny nets."""
    register_plugin(Probes(), "loop-duty-probes")
    ProbeLoss.seen, ProbeFittable.fits, InterruptAt.armed = [], [], True
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def d_forwards(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the discriminator's forward calls (a probe wrapper around the run's D)."""
    count = [0]

    class CountingDiscriminator(dcgan.DCGANDiscriminator):
        def forward(self, images, labels=None):
            count[0] += 1
            return super().forward(images, labels)

    # the dcgan architecture plugin looks the class up in its module when it builds D
    monkeypatch.setattr(dcgan, "DCGANDiscriminator", CountingDiscriminator)
    return count


def tiny(tmp_path: Path, name: str = "run", **overrides) -> dict:
    return {**TINY, "log_every": 1, "run_dir": str(tmp_path / name), **overrides}


def states(result) -> list[torch.Tensor]:
    modules = [result.generator, result.discriminator, *result.regularizers.values()]
    return [t for m in modules for t in [*m.parameters(), *m.buffers()]]


# -- the duty list --------------------------------------------------------------------------------
def test_every_duty_names_a_test_here_and_the_docs_list_them_all() -> None:
    tree = ast.parse(Path(__file__).read_text(encoding="utf-8"))
    tests = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert [duty.number for duty in LOOP_DUTIES] == list(range(len(LOOP_DUTIES)))
    assert {duty.test for duty in LOOP_DUTIES} <= tests
    plugins_md = (REPO / "docs" / "plugins.md").read_text(encoding="utf-8")
    for duty in LOOP_DUTIES:
        assert f"`{duty.test}`" in plugins_md, duty


def test_every_built_in_loss_declares_whether_it_needs_real_logits() -> None:
    declared = {name: get_loss(name).requires_real_logits for name in list_losses()}
    assert declared["rpgan"] is True
    assert all(value is False for name, value in declared.items() if name != "rpgan")


# -- the duties -----------------------------------------------------------------------------------
def test_duty_fit(tmp_path: Path) -> None:
    options = tiny(tmp_path, regularizers=["probe-fit"])
    train(**options, steps=2)
    assert ProbeFittable.fits == [16]
    resumed = train(resume=tmp_path / "run", steps=3)  # restored as fitted: not refitted
    assert ProbeFittable.fits == [16] and int(resumed.regularizers["probe-fit"].fitted_size) == 16


def test_duty_set_step(tmp_path: Path) -> None:
    train(**tiny(tmp_path, regularizers=["probe-reg:every=4"]), steps=STEPS)
    assert ProbeRegularizer.log["told"] == list(range(1, STEPS + 1))
    assert ProbeRegularizer.log["called"] == [1, 5, 9]
    train(resume=tmp_path / "run", steps=STEPS + 2)  # a resume continues the count
    assert ProbeRegularizer.log["told"] == [STEPS + 1, STEPS + 2]


@pytest.mark.parametrize("given", ["spec", "module"])
def test_duty_every(given: str, tmp_path: Path) -> None:
    regularizer = "probe-reg:weight=0.5,every=4" if given == "spec" else ProbeRegularizer(every=4)
    result = train(**tiny(tmp_path, regularizers=[regularizer]), steps=STEPS)
    name = "probe-reg" if given == "spec" else "ProbeRegularizer"
    assert ProbeRegularizer.log["called"] == [1, 5, 9]
    assert int(result.regularizers[name].calls) == 3
    logged = {row["step"]: row[f"reg/{name}"] for row in read_metrics(tmp_path / "run")}
    assert logged == {s: (4 * 0.5 if s in (1, 5, 9) else 0.0) for s in range(1, STEPS + 1)}


class MeanFeature(nn.Module):
    """φ(x) = (mean of x, mean of x²): a differentiable two-number feature space."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        flat = images.flatten(1)
        return torch.stack([flat.mean(1), flat.square().mean(1)], dim=1)


def test_duty_every_drives_the_centroid_warmup_in_training_steps(tmp_path: Path) -> None:
    centroid = CentroidLoss(MeanFeature(), weight=0.1, every=4, warmup_steps=8, progress=False)
    options = tiny(tmp_path, regularizers=[centroid], fit_cache=False)
    train(**options, steps=STEPS)
    rows = {row["step"]: row for row in read_metrics(tmp_path / "run")}
    for step in range(1, STEPS + 1):
        value = rows[step]["reg/CentroidLoss"]
        if step not in (1, 5, 9):
            assert value == 0.0
            continue
        excess = rows[step]["diag/CentroidLoss/mean_excess"]
        assert excess > 0  # the check below is not vacuous
        # every=4 → × 4; the warm-up counts training steps: λ·min(1, step / 8)
        assert value == pytest.approx(4 * 0.1 * min(1.0, step / 8) * excess, rel=1e-5)
    assert int(centroid.steps) == STEPS  # told every training step, called on 3 of them


def test_duty_discriminator_batch(tmp_path: Path) -> None:
    options = tiny(tmp_path, regularizers=["probe-d-reg"], augment="probe-augment")
    train(**options, steps=3)
    batches = ProbeDiscriminatorRegularizer.batches
    assert [batch.step for batch, _ in batches] == [1, 2, 3]
    for batch, seen in batches:
        assert isinstance(batch.augment, ProbeAugment)
        assert batch.real_logits.requires_grad and not batch.fake.requires_grad
        # the logits are D's outputs on the images as D saw them (after the augmentation)
        torch.testing.assert_close(seen, batch.real_logits.detach())


def test_duty_augment_update(tmp_path: Path) -> None:
    result = train(**tiny(tmp_path, augment="probe-augment"), steps=STEPS)
    updates = ProbeAugment.updates
    assert len(updates) == STEPS
    assert all(
        u.shape == (8,) and not u.requires_grad and u.dtype == torch.float32 for u in updates
    )
    # the last update held the logits D gave the last step's real batch (d_real = mean σ of them)
    last = read_metrics(tmp_path / "run")[-1]
    assert float(torch.sigmoid(updates[-1]).mean()) == pytest.approx(last["d_real"], rel=1e-5)
    assert result.step == STEPS


@pytest.mark.parametrize("wants", [False, True])
def test_duty_real_logits_on_request(wants: bool, tmp_path: Path, d_forwards: list[int]) -> None:
    options = tiny(tmp_path, loss=f"probe-loss:wants={str(wants).lower()}", augment="probe-augment")
    train(**options, steps=STEPS)
    assert len(ProbeLoss.seen) == STEPS
    if wants:
        assert all(isinstance(seen, torch.Tensor) and seen.shape == (8,) for seen in ProbeLoss.seen)
    else:
        assert ProbeLoss.seen == [None] * STEPS
    # D forwards per step: real and fake in the D step, fake in the G step, + D(T(x)) on request;
    # grids (sample_every) never call D. The augmentation draws once per D forward.
    per_step = 4 if wants else 3
    assert d_forwards[0] == per_step * STEPS
    assert int(load_checkpoint(tmp_path / "run")["augment"]["calls"]) == per_step * STEPS


def test_duty_ema(tmp_path: Path) -> None:
    cfg = load_config(None, tiny(tmp_path, ema_decay=0.9))
    from gan_regularizers.distributed import DistributedContext

    start = run_builder.build_run(
        cfg, None, None, torch.device("cpu"), DistributedContext(0, 1, 0, False), tmp_path / "x"
    )
    initial = [p.detach().clone() for p in start.generator.parameters()]
    result = train(**tiny(tmp_path, ema_decay=0.9), steps=1)
    beta = ema_beta(0.9, 1)
    for average, old, new in zip(
        result.generator_ema.parameters(), initial, result.generator.parameters(), strict=True
    ):
        torch.testing.assert_close(average, beta * old + (1 - beta) * new.detach())
    saved = load_checkpoint(tmp_path / "run")["generator_ema"]
    assert all(torch.equal(saved[k], v) for k, v in result.generator_ema.state_dict().items())


def test_duty_non_finite(tmp_path: Path) -> None:
    with pytest.raises(NonFiniteLossError, match=r"step 3: the regularizer 'probe-reg' is nan"):
        train(**tiny(tmp_path, regularizers=["probe-reg:nan_at=3"]), steps=5, checkpoint_every=2)
    assert load_checkpoint(tmp_path / "run")["step"] == 2


def test_duty_logit_summary(tmp_path: Path) -> None:
    train(**tiny(tmp_path, loss="probe-loss", augment="probe-augment"), steps=2)
    row = read_metrics(tmp_path / "run")[-1]
    assert (row["d_label"], row["d_equilibrium"]) == ("tanh D", 0.0)
    # d_real is the summary of the logits the augmentation's update saw
    assert row["d_real"] == pytest.approx(float(torch.tanh(ProbeAugment.updates[-1]).mean()), 1e-5)
    # the saturation monitor reads the summary's bounds, not a particular loss
    bounded = SaturationMonitor(ProbeLoss.logit_summary, limit=1)
    assert bounded.saturated({"loss_d": 1e-4, "d_real": 0.995, "d_fake": -0.995})
    assert not bounded.saturated({"loss_d": 1e-4, "d_real": 0.9, "d_fake": -0.9})
    lsgan = SaturationMonitor(get_loss("lsgan").logit_summary, limit=1)  # equilibrium, raw
    assert lsgan.saturated({"loss_d": 1e-4, "d_real": 0.9, "d_fake": 0.1})
    with pytest.warns(DiscriminatorSaturationWarning, match=r"tanh D real 0\.995"):
        bounded.check({"step": 7, "loss_d": 1e-4, "d_real": 0.995, "d_fake": -0.995})


def test_duty_diagnostics(tmp_path: Path) -> None:
    options = tiny(tmp_path, regularizers=["probe-reg:every=2"], augment="probe-augment")
    train(**options, steps=4)
    rows = read_metrics(tmp_path / "run")
    assert [row["diag/probe-reg/calls"] for row in rows] == [1.0, 1.0, 2.0, 2.0]
    assert [row["diag/augment/updates"] for row in rows] == [1.0, 2.0, 3.0, 4.0]


def test_duty_state_resumes(tmp_path: Path) -> None:
    options = {
        **TINY,
        "regularizers": ["probe-d-reg:weight=0.1,every=2"],
        "augment": "probe-augment",
        "checkpoint_every": 3,
    }
    straight = train(**options, steps=8, run_dir=str(tmp_path / "straight"))
    straight_augment = load_checkpoint(tmp_path / "straight")["augment"]
    train(**options, steps=4, run_dir=str(tmp_path / "split"))
    resumed = train(resume=tmp_path / "split", steps=8)
    pairs = list(zip(states(straight), states(resumed), strict=True))
    assert all(torch.equal(a, b) for a, b in pairs)
    lazy = resumed.regularizers["probe-d-reg"]
    assert int(lazy.calls) == 4 and float(lazy.anchor) != 0.0  # steps 1, 3, 5, 7
    resumed_augment = load_checkpoint(tmp_path / "split")["augment"]
    assert all(torch.equal(straight_augment[k], resumed_augment[k]) for k in straight_augment)


def test_duty_interrupt_keeps_the_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flags = ["--data", TINY["data"], "--batch-size", "8", "--quiet",
             "--architecture", "dcgan:g_width=4,d_width=4", "--set", "z_dim=8",
             "--set", "grid_size=4",
             "--set", "tensorboard=false", "--set", "plots=false"]  # fmt: skip
    run = tmp_path / "interrupted"
    regularizers = ["--regularizer", "interrupt-at:at=3", "--regularizer", "probe-d-reg"]
    status = main(["train", *flags, *regularizers, "--steps", "6", "--out", str(run)])
    assert status == 130
    err = capsys.readouterr().err
    assert f"interrupted at step 2; resume with `gan-regularizers train --resume {run}`" in err
    assert load_checkpoint(run)["step"] == 2
    assert main(["train", "--resume", str(run)]) == 0
    assert "trained 4 steps (steps 3–6)" in capsys.readouterr().out
    straight = train(**TINY, steps=6, run_dir=str(tmp_path / "straight"),
                     regularizers=["interrupt-at:at=3", "probe-d-reg"])  # fmt: skip
    resumed = load_checkpoint(run)
    for name in ("generator", "discriminator"):
        saved = getattr(straight, name).state_dict()
        assert all(torch.equal(saved[k], resumed[name][k]) for k in saved), name
    # a resume that trains nothing says so
    assert main(["train", "--resume", str(run)]) == 0
    assert "already at step 6 of 6; nothing to train" in capsys.readouterr().out


def test_ctrl_c_lets_the_step_finish_then_checkpoints_it(tmp_path: Path) -> None:
    options = tiny(tmp_path, regularizers=["interrupt-at:at=3,where=signal", "probe-d-reg"])
    # as in a fresh process: a library imported by an earlier test may have left its own handler,
    # and the loop defers Ctrl-C only over Python's default one (it never replaces a user's)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with pytest.raises(KeyboardInterrupt, match=r"^interrupted at step 3; resume with"):
        train(**options, steps=5)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored
    assert load_checkpoint(tmp_path / "run")["step"] == 3
    resumed = train(resume=tmp_path / "run")
    straight = train(**{**options, "run_dir": str(tmp_path / "straight")}, steps=5)
    assert all(torch.equal(a, b) for a, b in zip(states(straight), states(resumed), strict=True))


def test_an_interrupt_in_the_middle_of_a_step_keeps_a_resumable_run(tmp_path: Path) -> None:
    options = tiny(tmp_path, regularizers=["interrupt-at:at=3,where=middle"])
    with pytest.raises(KeyboardInterrupt, match=r"interrupted at step 2 \(step 3 was under way"):
        train(**options, steps=5)
    assert load_checkpoint(tmp_path / "run")["step"] == 2
    assert train(resume=tmp_path / "run").step == 5


def test_threads_zero_is_torchs_default_through_the_cli(tmp_path: Path) -> None:
    flags = ["--data", TINY["data"], "--batch-size", "8", "--quiet",
             "--architecture", "dcgan:g_width=4,d_width=4", "--set", "z_dim=8",
             "--set", "plots=false"]  # fmt: skip
    before = torch.get_num_threads()
    assert (
        main(["train", *flags, "--steps", "1", "--threads", "0", "--out", str(tmp_path / "a")]) == 0
    )
    assert torch.get_num_threads() == before
    assert load_config(tmp_path / "a" / "config.toml").threads == 0


def test_a_long_cpu_run_says_how_long_it_will_take(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    train(**tiny(tmp_path, name="short"), steps=6)
    assert "estimated training time" not in capsys.readouterr().err  # under a minute: silent
    monkeypatch.setattr(loop_module, "ESTIMATE_MIN_S", 0.0)
    train(**tiny(tmp_path), steps=6)
    lines = [line for line in capsys.readouterr().err.splitlines() if "estimated" in line]
    assert len(lines) == 1
    assert re.fullmatch(
        r"estimated training time on CPU: about \d+ min for the 2 remaining steps "
        r"\(\d+\.\d\d s/step at batch 8\); lower --steps or --batch-size, or train on a GPU, "
        r"to take less\.",
        lines[0],
    )


def test_duty_schedules(tmp_path: Path) -> None:
    options = tiny(tmp_path, regularizers=["probe-reg:weight=linear(0,1,4)"],
                   g_lr="step([1e-3,1e-4],[2])", beta2="linear(0.9,0.99,0.016kimg)")  # fmt: skip
    train(**options, steps=6)
    rows = read_metrics(tmp_path / "run")
    # the value a step used is its value after the steps done before it: 0, ¼, ½, ¾, 1, 1
    assert [row["reg/probe-reg"] for row in rows] == [0, 0.25, 0.5, 0.75, 1, 1]
    assert [row["sched/probe-reg/weight"] for row in rows] == [0, 0.25, 0.5, 0.75, 1, 1]
    assert [row["sched/train/g_lr"] for row in rows] == [1e-3, 1e-3] + [1e-4] * 4
    # batch 8: 0.008 kimg per step, so β2 reaches 0.99 after 2 steps
    assert [row["sched/train/beta2"] for row in rows] == pytest.approx([0.9, 0.945] + [0.99] * 4)
    resumed = train(resume=tmp_path / "run", steps=7)
    assert resumed.regularizers["probe-reg"].weight == 1.0


def test_duty_generator_batch(tmp_path: Path) -> None:
    result = train(**tiny(tmp_path, regularizers=["probe-batch"]), steps=2)
    assert len(ProbeBatchRegularizer.batches) == 2
    for batch, frozen in ProbeBatchRegularizer.batches:
        assert frozen and batch.discriminator is result.discriminator
        assert batch.real.shape == batch.fake.shape == (8, 1, 32, 32)  # synthetic: 1 channel
        assert batch.fake.requires_grad and not batch.real.requires_grad


def test_duty_adapt(tmp_path: Path) -> None:
    train(**tiny(tmp_path, regularizers=["probe-batch:every=2"]), steps=5)
    # after the steps the term ran (1, 3, 5), with the images since its last call: 2 · 8
    assert ProbeBatchRegularizer.adapted == [(1, 16), (3, 16), (5, 16)]
