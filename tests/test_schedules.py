"""Schedules: hand values at chosen steps, the spec grammar, and the loop setting every scheduled
value (plugin options, learning rates, betas, lazy Adam's mb_ratio) before the right step."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from tiny_runs import TINY
from torch import nn

from gan_regularizers import get_regularizer, hookimpl, train
from gan_regularizers.distributed import DistributedContext
from gan_regularizers.errors import ConfigError, InvalidOptionError, SpecError
from gan_regularizers.plugin_system.specs import format_spec, parse_spec
from gan_regularizers.schedules import (
    ScheduledOptions,
    attach,
    cosine,
    linear,
    parse_schedule,
    step,
    value_at,
)
from gan_regularizers.training.checkpoint import load_checkpoint
from gan_regularizers.training.config import load_config
from gan_regularizers.training.metrics_log import read_metrics
from gan_regularizers.training.run_builder import build_run
from gan_regularizers.training.scheduling import adam_hyperparameters, mb_ratio

# -- the objects, by hand ---------------------------------------------------------------------


def test_linear_at_chosen_steps() -> None:
    ramp = linear(10, 1, 2000)
    assert [ramp.value(t) for t in (0, 500, 1000, 2000, 5000)] == [10, 7.75, 5.5, 1, 1]


def test_cosine_at_chosen_steps() -> None:
    ramp = cosine(1, 0, 100)
    assert ramp.value(0) == 1 and ramp.value(100) == 0 and ramp.value(400) == 0
    assert ramp.value(50) == pytest.approx(0.5, abs=1e-15)
    assert ramp.value(25) == pytest.approx((1 + math.cos(math.pi / 4)) / 2)  # 0.853553…
    assert cosine(2e-4, 1e-5, 10).value(5) == pytest.approx(1e-5 + (2e-4 - 1e-5) * 0.5)


def test_step_at_chosen_steps() -> None:
    stairs = step([1, 0.5, 0.1], [1000, 2000])
    assert [stairs.value(t) for t in (0, 999, 1000, 1999, 2000, 10**6)] == [
        1,
        1,
        0.5,
        0.5,
        0.1,
        0.1,
    ]


def test_images_switches_the_unit_to_kimg() -> None:
    ramp = linear(0, 1, 10, images=True)  # over 10,000 images, whatever the steps
    assert ramp.value(step=999, images_seen=5000) == 0.5
    assert ramp.value(step=1, images_seen=20_000) == 1
    assert step([2, 4], [1], images=True).value(10**6, images_seen=999) == 2
    assert value_at(3.0, 10) == 3.0 and value_at(ramp, 0, 2500) == 0.25


def test_repr_is_the_spec_text_and_reads_back() -> None:
    objects = [linear(10, 1, 2000), cosine(2e-4, 0, 500, images=True), step([1, 0.5], [1000])]
    texts = ["linear(10, 1, 2000)", "cosine(0.0002, 0, 500kimg)", "step([1, 0.5], [1000])"]
    assert [repr(o) for o in objects] == texts
    assert [parse_schedule(t) for t in texts] == objects
    assert parse_schedule("step([1,0.5,0.1],[10kimg,20kimg])") == step(
        [1, 0.5, 0.1], [10, 20], images=True
    )


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: linear(1, 0, 0), "length must be > 0 training steps"),
        (lambda: cosine(1, float("nan"), 10), "end must be a finite number"),
        (lambda: step([1, 2], [5, 6]), "2 value.* need 1 boundary"),
        (lambda: step([1, 2, 3], [5, 5]), "strictly increasing"),
    ],
)
def test_bad_arguments_say_what_to_write(make, message: str) -> None:
    with pytest.raises(InvalidOptionError, match=message):
        make()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("linear(1, 0)", "linear takes \\(start, end, length\\)"),
        ("step([1, 0.5], [10kimg, 20])", "one unit"),
        ("cosine(1, x, 10)", "'x' is not a number"),
        ("step(1, [2])", "expected a list in brackets"),
        ("linear(1, 0, -5)", "length must be > 0"),
        ("exp(1, 2, 3)", "is not a schedule"),
    ],
)
def test_grammar_errors_are_spec_errors(text: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        parse_schedule(text)


# -- specs and configs ------------------------------------------------------------------------


def test_spec_commas_inside_a_schedule_do_not_split_options() -> None:
    name, options = parse_spec("r1:gamma=linear(10,1,2000),every=16")
    assert (name, options) == ("r1", {"gamma": linear(10, 1, 2000), "every": 16})
    assert parse_spec(format_spec(name, options)) == (name, options)
    _, options = parse_spec("diffaugment:policy=color,cutout,p=step([0,0.5],[10kimg])")
    assert options == {"policy": "color,cutout", "p": step([0, 0.5], [10], images=True)}


def test_config_keys_take_schedules_as_text() -> None:
    cfg = load_config(None, {"g_lr": "cosine(2e-4,0,100)", "beta2": linear(0.9, 0.99, 5)})
    assert cfg.g_lr == "cosine(0.0002, 0, 100)" and cfg.beta2 == "linear(0.9, 0.99, 5)"
    assert load_config(cfg.to_dict()) == cfg  # the TOML round trip keeps the text
    with pytest.raises(ConfigError, match=r"'beta2': Adam's beta must lie in \[0, 1\), got 1.2"):
        load_config(None, {"beta2": "linear(0.9,1.2,10)"})
    with pytest.raises(ConfigError, match="'g_lr': schedule 'linear\\(1\\)'"):
        load_config(None, {"g_lr": "linear(1)"})
    with pytest.raises(ConfigError, match="'seed': expected an integer"):
        load_config(None, {"seed": "linear(1,2,3)"})  # only SCHEDULABLE_KEYS take schedules


# -- reaching the plugin ----------------------------------------------------------------------


class Probe(nn.Module):
    """A generator regularizer that records its ``weight`` at each call (value 0)."""

    side = "generator"

    def __init__(self, weight: float = 1.0) -> None:
        super().__init__()
        self.weight = weight
        self.seen: list[float] = []

    def forward(self, fake: torch.Tensor) -> torch.Tensor:
        self.seen.append(self.weight)
        return 0.0 * fake.sum()


class DProbe(Probe):
    side = "discriminator"

    def forward(self, batch) -> torch.Tensor:
        self.seen.append(self.weight)
        return 0.0 * batch.real_logits.sum()


class ProbePlugin:
    @hookimpl
    def register_regularizers(self, register) -> None:
        register("probe", Probe)
        register("d-probe", DProbe)


def test_get_regularizer_takes_a_schedule_and_attach_schedules_a_built_module() -> None:
    r1 = get_regularizer("r1", gamma=linear(10, 1, 100))
    assert r1.gamma == 10.0 and r1.scheduled_options == {"gamma": linear(10, 1, 100)}
    table = ScheduledOptions.collect({"r1": r1, "augment": None})
    assert table.apply(50, 0) == {"sched/r1/gamma": 5.5} and r1.gamma == 5.5
    probe = attach(Probe(), weight="step([1, 0], [3])")
    assert (
        probe.weight == 1
        and ScheduledOptions.collect({"p": probe}).apply(3, 0)["sched/p/weight"] == 0
    )
    with pytest.raises(InvalidOptionError, match=r"no attribute 'scale'.*cannot be scheduled"):
        attach(Probe(), scale=linear(1, 0, 5))
    buffered = Probe()
    buffered.register_buffer("p", torch.tensor(1.0))  # a buffer is filled in place
    attach(buffered, p=linear(0, 1, 4))
    ScheduledOptions.collect({"b": buffered}).apply(3, 0)
    assert isinstance(buffered.p, torch.Tensor) and buffered.p.item() == 0.75
    assert buffered.state_dict()["p"].item() == 0.75


def test_scheduled_options_reach_the_plugin_before_the_right_step(
    tmp_path: Path, register_plugin
) -> None:
    register_plugin(ProbePlugin(), "schedule-probes")
    result = train(
        **TINY, steps=5, log_every=1, run_dir=str(tmp_path),
        regularizers=["probe:weight=linear(0,1,4)", "d-probe:weight=step([1,2],[2]),every=2",
                      "probe:weight=linear(0,1,0.016kimg)"],
    )  # fmt: skip
    # step t (1-based) sees the value at t − 1 steps done; batch 8: 0.008 kimg per step
    assert result.regularizers["probe"].seen == [0, 0.25, 0.5, 0.75, 1]
    assert result.regularizers["d-probe"].seen == [1, 2, 2]  # steps 1, 3, 5 (every=2)
    assert result.regularizers["probe#2"].seen == [0, 0.5, 1, 1, 1]
    rows = read_metrics(tmp_path)
    assert [row["sched/probe/weight"] for row in rows] == [0, 0.25, 0.5, 0.75, 1]
    assert [row["sched/d-probe/weight"] for row in rows] == [1, 1, 2, 2, 2]
    assert load_checkpoint(tmp_path)["schedules"]["sched/probe/weight"] == 1


# -- learning rates, betas, lazy Adam ---------------------------------------------------------


def test_mb_ratio_rescales_lr_and_betas_by_hand() -> None:
    assert mb_ratio(1) == 1 and mb_ratio(16) == 16 / 17 and mb_ratio(4) == 0.8
    lr, (beta1, beta2) = adam_hyperparameters(2e-3, 0.0, 0.99, mb_ratio(16))
    assert lr == pytest.approx(2e-3 * 16 / 17)  # StyleGAN2's D: lr 0.0018824
    assert beta1 == 0.0 and beta2 == pytest.approx(0.99 ** (16 / 17))
    assert beta2 == pytest.approx(0.9905855, abs=1e-7)  # exp(16/17 · ln 0.99)


def test_learning_rates_and_betas_follow_their_schedules_with_lazy_adam(tmp_path: Path) -> None:
    options = {**TINY, "lazy_adam": True, "g_lr": "linear(1e-3,0,4)", "d_lr": 2e-4, "beta1": 0.0,
               "beta2": "step([0.9,0.99],[2])", "regularizers": ["r1:gamma=1,every=4"]}  # fmt: skip
    run = build_run(load_config(None, options), None, None, torch.device("cpu"),
                    DistributedContext(0, 1, 0, False), tmp_path)  # fmt: skip
    c = 4 / 5  # D has r1 every 4 steps: mb_ratio 4/5; G has no lazy regularizer: 1
    for t, beta2 in ((1, 0.9), (2, 0.9), (3, 0.99), (4, 0.99)):
        run.schedules.before_step(run, t)
        g, d = run.g_optimizer.param_groups[0], run.d_optimizer.param_groups[0]
        assert (g["lr"], *g["betas"]) == pytest.approx((1e-3 * (1 - (t - 1) / 4), 0.0, beta2))
        assert (d["lr"], *d["betas"]) == pytest.approx((2e-4 * c, 0.0, beta2**c), rel=1e-12)
    assert run.schedules.values["sched/train/g_lr"] == pytest.approx(1e-3 / 4)


def test_loss_and_augmentation_options_are_scheduled_like_regularizers(tmp_path: Path) -> None:
    options = {**TINY, "loss": "lsgan:a=linear(0,-1,4),b=1",
               "augment": "diffaugment:adaptive=true,ada_kimg=linear(100,10,4)"}  # fmt: skip
    run = build_run(load_config(None, options), None, None, torch.device("cpu"),
                    DistributedContext(0, 1, 0, False), tmp_path)  # fmt: skip
    assert (run.loss.a, run.augment.ada_kimg) == (0.0, 100.0)  # built with the first values
    run.schedules.before_step(run, 3)  # 2 steps done
    assert (run.loss.a, run.augment.ada_kimg) == (-0.5, 55.0)
    assert run.schedules.values == {"sched/loss/a": -0.5, "sched/augment/ada_kimg": 55.0}
