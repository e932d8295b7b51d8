"""StyleGAN2-ADA's EMA: β = 0.5^(B / h), h = ema_kimg·1000 capped at ema_rampup · images seen,
against hand computations; the config's one-form-at-a-time rule; the loop using it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tiny_runs import TINY

from gan_regularizers import train
from gan_regularizers.errors import ConfigError
from gan_regularizers.training.config import ema_enabled, load_config
from gan_regularizers.training.ema import ema_beta, half_life_beta
from gan_regularizers.training.scheduling import RunSchedules


def test_half_life_beta_by_hand() -> None:
    # 0.5^(32/10000) = exp(−0.0032 · ln 2) = exp(−0.00221807) = 0.9977844
    assert half_life_beta(32, 10, images_seen=0) == pytest.approx(0.9977844, abs=1e-7)
    assert half_life_beta(32, 10, images_seen=0, rampup=0.05) == 0.0  # h = 0: copy G
    # 6,400 images seen: h = min(10,000, 0.05 · 6,400 = 320); 0.5^(32/320) = 0.5^0.1 = 0.9330330
    assert half_life_beta(32, 10, 6400, rampup=0.05) == pytest.approx(0.9330330, abs=1e-7)
    # 10^6 images: the ramp (50,000) is past the half-life, which is 10,000 again
    assert half_life_beta(32, 10, 10**6, rampup=0.05) == pytest.approx(0.9977844, abs=1e-7)
    assert ema_beta(0.999, 1) == pytest.approx(2 / 11)  # the other form keeps its warm-up


def test_the_run_uses_the_images_seen_before_each_step() -> None:
    cfg = load_config(None, {**TINY, "ema_kimg": 0.1, "ema_rampup": 0.5})  # batch 8
    schedules = RunSchedules.build(cfg, {}, {})
    assert schedules.ema_beta(1) == 0.0  # n = 0
    assert schedules.ema_beta(3) == 0.5  # n = 16, h = min(100, 8) = 8: 0.5^(8/8)
    assert schedules.ema_beta(100) == pytest.approx(0.5**0.08)  # n = 792, h = 100: 0.9460576
    assert schedules.ema_beta(100) == pytest.approx(0.9460576, abs=1e-7)
    ramped = load_config(None, {**TINY, "ema_kimg": "linear(0.1, 1, 1kimg)"})
    # 1,000 images seen: half-life 1 kimg: 0.5^(8/1000)
    assert RunSchedules.build(ramped, {}, {}).ema_beta(126) == pytest.approx(0.5 ** (8 / 1000))
    assert ema_enabled(ramped) and not ema_enabled(load_config(None, {}))


def test_one_ema_form_at_a_time() -> None:
    with pytest.raises(ConfigError, match=r"'ema_decay' .* and 'ema_kimg' .* are both set"):
        load_config(None, {"ema_decay": 0.999, "ema_kimg": 10})
    with pytest.raises(ConfigError, match=r"'ema_rampup' .* but ema_kimg is 0"):
        load_config(None, {"ema_rampup": 0.05})
    with pytest.raises(ConfigError, match="'ema_kimg': expected a number ≥ 0"):
        load_config(None, {"ema_kimg": -1})


def test_training_averages_with_the_ramped_half_life(tmp_path: Path) -> None:
    options = {**TINY, "ema_kimg": 0.1, "ema_rampup": 0.5}  # step 1: β = 0; step 2: h = 4, β = ¼
    one = train(**options, steps=1, run_dir=str(tmp_path / "one"))
    two = train(**options, steps=2, run_dir=str(tmp_path / "two"))
    for average, current in zip(one.generator_ema.parameters(), one.generator.parameters(),
                                strict=True):  # fmt: skip
        assert torch.equal(average, current)  # β = 0 copies G
    pairs = zip(two.generator_ema.parameters(), one.generator.parameters(),
                two.generator.parameters(), strict=True)  # fmt: skip
    for average, first, second in pairs:
        torch.testing.assert_close(average, 0.25 * first + 0.75 * second)
    report = (tmp_path / "two" / "report.md").read_text()
    assert "G-EMA half-life 0.1 kimg, ramp-up 0.5" in report and "EMA generator)" in report
