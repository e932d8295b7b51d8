"""configs/r3gan_mnist5k.toml says what it holds, and trains (a few steps, with overrides)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny_runs import TINY

from gan_regularizers import train
from gan_regularizers.plugin_system.specs import parse_spec
from gan_regularizers.schedules import cosine
from gan_regularizers.training.config import load_config
from gan_regularizers.training.metrics_log import read_metrics

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "r3gan_mnist5k.toml"


def test_the_config_is_r3gans_recipe_over_its_own_length() -> None:
    cfg = load_config(CONFIG)
    run_kimg = cfg.steps * cfg.batch_size / 1000
    assert run_kimg == 76.8  # what the comments say: 1,200 steps of 64 images
    assert cfg.loss == "rpgan" and cfg.beta1 == 0.0 and cfg.augment == ""
    gammas = [parse_spec(spec) for spec in cfg.regularizers]
    assert gammas == [(n, {"gamma": cosine(1, 0.1, run_kimg, images=True)}) for n in ("r1", "r2")]
    for key, start, end in (("g_lr", 2e-4, 5e-5), ("d_lr", 2e-4, 5e-5),
                            ("beta2", 0.9, 0.99), ("ema_kimg", 0, 10)):  # fmt: skip
        assert getattr(cfg, key) == repr(cosine(start, end, run_kimg, images=True)), key


def test_the_config_trains(tmp_path: Path) -> None:
    overrides = {**TINY, "steps": 3, "log_every": 1, "run_dir": str(tmp_path), "plots": False}
    result = train(CONFIG, **{k: v for k, v in overrides.items() if k != "data"})
    assert result.step == 3 and result.generator_ema is not None
    rows = read_metrics(tmp_path)
    assert rows[0]["sched/r1/gamma"] == rows[0]["sched/r2/gamma"] == 1.0
    assert rows[0]["sched/ema/beta"] == 0.0  # half-life 0 at the start: the EMA copies G
    # step 3 (16 of the 76,800 images seen): γ = 0.1 + 0.9 · (1 + cos(π · 0.016/76.8)) / 2
    assert rows[2]["sched/r1/gamma"] == pytest.approx(1.0, abs=1e-6)
    assert rows[2]["sched/r1/gamma"] < 1.0
