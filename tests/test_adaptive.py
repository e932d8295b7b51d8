"""The sign controller on a scripted sequence, the adaptive centroid and the generic Steered
wrapper by hand, and exact resume of a run with schedules, the EMA ramp and the adaptive
centroid (from Python and from the CLI)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from tiny_runs import TINY
from torch import nn

from gan_regularizers import CentroidLoss, train
from gan_regularizers.cli import main
from gan_regularizers.control import SignRule, Steered
from gan_regularizers.errors import InvalidOptionError
from gan_regularizers.training.checkpoint import load_checkpoint
from gan_regularizers.training.metrics_log import read_metrics

# -- the rule ---------------------------------------------------------------------------------


def test_sign_rule_on_a_scripted_sequence() -> None:
    # 20 images per step, rate 0.1 kimg, scale 0.1: each step moves λ by 20/100 · 0.1 = 0.02
    rule = SignRule(target=0.3, rate_kimg=0.1, scale=0.1)
    assert rule.step_size(20) == pytest.approx(0.02)
    fractions = [0.5, 0.5, 0.1, 0.3, 0.9] + [0.0] * 8
    expected = [0.12, 0.14, 0.12, 0.12, 0.14, 0.12, 0.10, 0.08, 0.06, 0.04, 0.02, 0.0, 0.0]
    value, seen = 0.1, []
    for fraction in fractions:
        value = rule.next(value, fraction, images=20)
        seen.append(value)
    assert seen == pytest.approx(expected, abs=1e-12)
    assert seen[-1] == 0.0  # clamped at the minimum, never negative
    lowering = SignRule(target=1.0, rate_kimg=1, scale=2, maximum=2.5, direction=-1)
    assert lowering.next(2.0, 0.5, images=500) == 2.5  # below target: up by 1, capped at 2.5
    assert lowering.next(2.0, 1.5, images=500) == 1.0  # above target: down by 2·500/1000


def test_sign_rule_rejects_a_rule_that_cannot_move() -> None:
    with pytest.raises(InvalidOptionError, match=r"rate_kimg must be .* > 0"):
        SignRule(target=0.3, rate_kimg=0, scale=0.1)
    with pytest.raises(InvalidOptionError, match=r"scale .* must be > 0"):
        SignRule(target=0.3, rate_kimg=1, scale=0.0)


# -- the adaptive centroid --------------------------------------------------------------------


def two_d(points: list[tuple[float, float]], grad: bool = False) -> torch.Tensor:
    """Points as 1×1×2 'images' (the feature space flattens them)."""
    images = torch.tensor(points, dtype=torch.float32).reshape(-1, 1, 1, 2)
    return images.requires_grad_(grad)


def fitted_centroid(**options: object) -> CentroidLoss:
    # the real points sit at distance 1 from their centre 0: c = 0, d_ref = 1
    loss = CentroidLoss(nn.Flatten(), weight=0.1, progress=False, **options)
    return loss.fit(two_d([(1, 0), (-1, 0), (0, 1), (0, -1)]))


def test_adaptive_centroid_steps_lambda_by_the_fraction_penalised() -> None:
    loss = fitted_centroid(adaptive=True, target=0.25, rate_kimg=0.004)
    fake = two_d([(0.5, 0), (0, 2), (-3, 0), (0.1, 0)], grad=True)  # distances .5, 2, 3, .1
    value = loss(fake)
    assert loss.diagnostics["fraction_penalised"] == 0.5  # 2 of 4 beyond d_ref = 1
    assert value.item() == pytest.approx(0.1 * (0 + 1 + 2 + 0) / 4)  # λ · mean excess
    loss.adapt(images=4)  # 0.5 > 0.25: λ += 4 / (0.004 · 1000) · 0.1 = 0.1
    assert loss.diagnostics["weight"] == pytest.approx(0.2)
    assert loss(fake).item() == pytest.approx(0.2 * 0.75)
    near = two_d([(0.5, 0), (0, 0.2), (-0.3, 0), (0.1, 0)], grad=True)
    loss(near)
    loss.adapt(images=8)  # 0 < 0.25: λ −= 8 / 4 · 0.1 = 0.2 → 0, clamped
    assert loss.current_weight == 0.0 and loss(fake).item() == 0.0
    assert loss.diagnostics["fraction_penalised"] == 0.5  # still measured at λ = 0
    restored = fitted_centroid(adaptive=True, target=0.25, rate_kimg=0.004)
    restored.load_state_dict(loss.state_dict())
    assert float(restored.controller.weight) == 0.0
    assert "weight" not in fitted_centroid().diagnostics  # a fixed λ is not a diagnostic


def test_adaptive_centroid_options_are_checked() -> None:
    with pytest.raises(InvalidOptionError, match="weight must be > 0"):
        CentroidLoss(nn.Flatten(), weight=0.0, adaptive=True)
    with pytest.raises(InvalidOptionError, match=r"target must be a fraction .* in \[0, 1\]"):
        CentroidLoss(nn.Flatten(), adaptive=True, target=1.5)
    with pytest.raises(InvalidOptionError, match="rate_kimg must be a number > 0"):
        CentroidLoss(nn.Flatten(), adaptive=True, rate_kimg=0)


# -- any regularizer: Steered -----------------------------------------------------------------


class Reporting(nn.Module):
    """A regularizer reporting a scripted diagnostic; its value is ``gamma``."""

    side = "discriminator"

    def __init__(self) -> None:
        super().__init__()
        self.gamma = 2.0
        self.diagnostics: dict[str, float] = {}

    def forward(self, batch: object) -> torch.Tensor:
        return torch.tensor(self.gamma)


def test_steered_moves_any_option_by_any_diagnostic() -> None:
    steered = Steered(Reporting(), option="gamma", diagnostic="ratio", target=1.0, rate_kimg=0.1)
    assert steered.side == "discriminator"  # the wrapped module's members show through
    with pytest.raises(InvalidOptionError, match="has no 'ratio'"):
        steered.adapt(10)
    steered.module.diagnostics = {"ratio": 3.0}
    steered.adapt(images=10)  # above target: + 10/100 · 2 = 0.2
    assert float(steered(None)) == pytest.approx(2.2) and steered.diagnostics["gamma"] == 2.2
    steered.module.diagnostics = {"ratio": 0.5}
    steered.adapt(images=50)  # below: − 50/100 · 2 = 1
    assert float(steered.value) == pytest.approx(1.2)
    assert set(steered.state_dict()) == {"value"}
    with pytest.raises(InvalidOptionError, match="no attribute 'lam' to steer"):
        Steered(Reporting(), option="lam", diagnostic="ratio", target=1.0)


# -- exact resume -----------------------------------------------------------------------------

SCHEDULED = {
    **TINY,
    "regularizers": [
        "centroid:feature_space=pixels,adaptive=true,target=0.3,rate_kimg=0.05",
        "r1:gamma=linear(10,1,8),every=2",
    ],
    "ema_kimg": "linear(0.01, 0.1, 0.1kimg)",
    "ema_rampup": 0.5,
    "g_lr": "cosine(2e-4, 0, 10)",
    "beta2": "step([0.9, 0.99], [3])",
    "lazy_adam": True,
    "log_every": 2,
    "checkpoint_every": 4,
    "plots": False,
}


def test_resume_is_bit_exact_with_schedules_ema_ramp_and_adaptive_centroid(tmp_path: Path) -> None:
    straight = train(**SCHEDULED, steps=8, run_dir=str(tmp_path / "straight"))
    train(**SCHEDULED, steps=4, run_dir=str(tmp_path / "split"))
    resumed = train(resume=tmp_path / "split", steps=8)
    for name in ("generator", "discriminator", "generator_ema"):
        a, b = getattr(straight, name).state_dict(), getattr(resumed, name).state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a), name
    weight = straight.regularizers["centroid"].controller.weight
    assert torch.equal(weight, resumed.regularizers["centroid"].controller.weight)
    assert float(weight) != 0.1  # λ moved
    rows = read_metrics(tmp_path / "straight")
    columns = ("diag/centroid/weight", "sched/r1/gamma", "sched/train/g_lr", "sched/ema/beta")
    assert all(c in rows[-1] for c in columns)
    assert [r["sched/r1/gamma"] for r in rows] == pytest.approx([8.875, 6.625, 4.375, 2.125])
    assert [[r[c] for c in columns] for r in read_metrics(tmp_path / "split")] == [
        [r[c] for c in columns] for r in rows
    ]
    assert load_checkpoint(tmp_path / "split")["schedules"]["sched/r1/gamma"] == 2.125


def test_cli_trains_adaptive_centroid_and_scheduled_r1_and_resumes_exactly(
    tmp_path: Path,
) -> None:
    config = tmp_path / "tiny.toml"
    config.write_text("\n".join(f"{k} = {json.dumps(v)}" for k, v in TINY.items()) + "\n")
    arguments = ["train", "--config", str(config), "--quiet",
                 "--regularizer", "centroid:feature_space=pixels,adaptive=true,target=0.3",
                 "--regularizer", "r1:gamma=linear(10,1,4)",
                 "--set", "beta2=step([0.9,0.99],[2])"]  # fmt: skip
    assert main([*arguments, "--steps", "4", "--out", str(tmp_path / "straight")]) == 0
    assert main([*arguments, "--steps", "2", "--out", str(tmp_path / "split")]) == 0
    assert main(["train", "--resume", str(tmp_path / "split"), "--steps", "4", "--quiet"]) == 0
    a, b = load_checkpoint(tmp_path / "straight"), load_checkpoint(tmp_path / "split")
    for part in ("generator", "discriminator"):
        assert all(torch.equal(a[part][k], b[part][k]) for k in a[part]), part
    weight = a["regularizers"]["centroid"]["controller.weight"]
    assert torch.equal(weight, b["regularizers"]["centroid"]["controller.weight"])
    # 8 images a step, rate 10 kimg: λ moves by 8e-5 a step; every fake is penalised at first
    assert float(weight) == pytest.approx(0.1 + 4 * 8e-5)
    assert a["schedules"]["sched/r1/gamma"] == b["schedules"]["sched/r1/gamma"] == 3.25
    assert a["schedules"]["sched/train/beta2"] == 0.99
    assert 'beta2 = "step([0.9, 0.99], [2])"' in (tmp_path / "split" / "config.toml").read_text()
