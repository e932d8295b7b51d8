"""Training through the architecture hook: resnet and the user's own modules resume bit-exactly,
spectral norm holds D's weights at σ_max ≈ 1 and an outside package's architecture trains and
evaluates from the CLI (conditional training: tests/test_conditional.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from gan_regularizers import train
from gan_regularizers.errors import ConfigError
from gan_regularizers.training.checkpoint import load_checkpoint
from gan_regularizers.training.run_loading import load_run

SMALL = {
    "data": "synthetic:num_images=16",
    "batch_size": 4,
    "z_dim": 8,
    "grid_size": 4,
    "quiet": True,
    "tensorboard": False,
    "plots": False,
    "threads": 1,
}
RESNET = "resnet:g_width=8,d_width=8"


def assert_same_state(first: dict[str, Any], second: dict[str, Any]) -> None:
    assert first.keys() == second.keys()
    for key in first:
        assert torch.equal(first[key], second[key]), key


def test_resnet_resumes_bit_exactly(tmp_path: Path) -> None:
    keys = {**SMALL, "architecture": RESNET, "loss": "hinge", "ema_decay": 0.9}
    straight = train(None, **keys, steps=4, run_dir=str(tmp_path / "straight"))
    train(None, **keys, steps=2, run_dir=str(tmp_path / "split"))
    resumed = train(resume=tmp_path / "split", steps=4)
    for a, b in ((straight.generator, resumed.generator),
                 (straight.discriminator, resumed.discriminator),
                 (straight.generator_ema, resumed.generator_ema)):  # fmt: skip
        assert_same_state(a.state_dict(), b.state_dict())
    record = load_checkpoint(tmp_path / "split")["architecture"]
    assert record["spec"] == RESNET and record["discriminator"] == "ResNetDiscriminator"


class MyGenerator(nn.Module):
    """A user's own generator: not registered anywhere."""

    def __init__(self, z_dim: int = 8) -> None:
        super().__init__()
        self.z_dim = z_dim
        self.net = nn.Sequential(nn.Linear(z_dim, 32), nn.BatchNorm1d(32), nn.ReLU(),
                                 nn.Linear(32, 32 * 32), nn.Tanh())  # fmt: skip

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(-1, 1, 32, 32)


class MyDiscriminator(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(1, 4, 4, 4), nn.LeakyReLU(0.2), nn.Flatten(),
                                 nn.Linear(4 * 8 * 8, 1))  # fmt: skip

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images)  # (B, 1): allowed by the contract


def modules(seed: int) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(seed)
    return MyGenerator(), MyDiscriminator()


def test_user_modules_train_resume_bit_exactly_and_are_recorded(tmp_path: Path) -> None:
    keys = {k: v for k, v in SMALL.items() if k != "z_dim"}
    g, d = modules(0)
    straight = train(None, **keys, steps=4, ema_decay=0.9, run_dir=str(tmp_path / "straight"),
                     generator=g, discriminator=d)  # fmt: skip
    g, d = modules(0)
    train(None, **keys, steps=2, ema_decay=0.9, run_dir=str(tmp_path / "split"),
          generator=g, discriminator=d)  # fmt: skip
    fresh_g, fresh_d = modules(1)  # other initial weights: the checkpoint overwrites them
    resumed = train(resume=tmp_path / "split", steps=4, generator=fresh_g, discriminator=fresh_d)
    assert resumed.generator is fresh_g
    assert_same_state(straight.generator.state_dict(), fresh_g.state_dict())
    assert_same_state(straight.discriminator.state_dict(), fresh_d.state_dict())
    assert_same_state(straight.generator_ema.state_dict(), resumed.generator_ema.state_dict())
    config = (tmp_path / "split" / "config.toml").read_text()
    g_count = sum(p.numel() for p in g.parameters())
    assert f"G=MyGenerator ({g_count} parameters), D=MyDiscriminator" in config
    assert "z_dim = 8" in config
    assert len(list((tmp_path / "split" / "samples").glob("*.png"))) == 2
    assert (tmp_path / "split" / "report.md").is_file()


def test_user_modules_runs_say_what_to_pass(tmp_path: Path) -> None:
    keys = {k: v for k, v in SMALL.items() if k != "z_dim"}
    g, d = modules(0)
    train(None, **keys, steps=1, run_dir=str(tmp_path / "run"), generator=g, discriminator=d)
    with pytest.raises(ConfigError, match=r"pass them again: train\(resume=RUN_DIR, generator=G"):
        train(resume=tmp_path / "run", steps=2)
    with pytest.raises(ConfigError, match=r"load_run\(RUN_DIR, generator=G, discriminator=D\)"):
        load_run(tmp_path / "run")
    with pytest.raises(ConfigError, match=r"the modules passed are .*G=Linear"):
        train(resume=tmp_path / "run", steps=2, generator=nn.Linear(2, 2), discriminator=d)
    with pytest.raises(ConfigError, match=r"run's generator was a MyGenerator, but a Linear"):
        load_run(tmp_path / "run", generator=nn.Linear(2, 2))
    loaded = load_run(tmp_path / "run", generator=MyGenerator())
    assert loaded.step == 1 and loaded.discriminator is None
    with pytest.raises(ConfigError, match="pass both"):
        train(None, **keys, steps=1, run_dir=str(tmp_path / "other"), generator=g)
    with pytest.raises(ConfigError, match=r"'z_dim' is 5 but the generator .* has z_dim = 8"):
        train(None, **keys, z_dim=5, steps=1, run_dir=str(tmp_path / "x"), generator=g,
              discriminator=d)  # fmt: skip


def _largest_singular_values(discriminator: nn.Module) -> list[float]:
    """σ_max of every weight of D as used in its forward (W / σ̂ under spectral norm), float64."""
    values = []
    for module in discriminator.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear, nn.Embedding)):
            weight = module.weight.detach().double().flatten(1)
            values.append(float(torch.linalg.svdvals(weight)[0]))
    return values


def test_spectral_norm_holds_every_d_weight_at_one(tmp_path: Path) -> None:
    keys = {**SMALL, "architecture": RESNET, "loss": "hinge", "steps": 30}
    result = train(None, **keys, run_dir=str(tmp_path / "sn"))
    result.discriminator.eval()  # use the stored power-iteration vectors, no further update
    sigmas = _largest_singular_values(result.discriminator)
    assert len(sigmas) == 11  # 4 blocks × 2 convolutions, 2 shortcut convolutions, ψ
    assert max(abs(s - 1) for s in sigmas) < 1e-3, sigmas
    plain = train(None, **{**keys, "architecture": RESNET + ",spectral_norm=false"},
                  run_dir=str(tmp_path / "plain"))  # fmt: skip
    assert max(abs(s - 1) for s in _largest_singular_values(plain.discriminator)) > 0.2


def _run_cli(*args: str, extra_path: Path) -> subprocess.CompletedProcess[str]:
    paths = [str(extra_path), os.environ.get("PYTHONPATH")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, paths))}
    return subprocess.run([sys.executable, "-m", "gan_regularizers", *args], capture_output=True,
                          text=True, env=env, check=False)  # fmt: skip


def test_an_outside_packages_architecture_trains_and_evaluates_from_the_cli(
    example_plugin: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    result = _run_cli("train", "--data=mnist5k", "--architecture=linear", "--batch-size=8",
                      "--steps=2", "--quiet", "--threads=1", "--set=plots=false",
                      "--set=fit_cache=false", f"--out={run}",
                      extra_path=example_plugin)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert 'architecture = "linear"' in (run / "config.toml").read_text()
    assert load_checkpoint(run)["architecture"]["generator"] == "LinearGenerator"
    result = _run_cli("eval", str(run), "--num-samples", "30", "--metrics", "fd:mnist-classifier",
                      "--quiet", extra_path=example_plugin)  # fmt: skip
    assert result.returncode == 0, result.stderr
    payload = json.loads((run / "metrics.json").read_text())
    assert payload["entries"][-1]["run"]["step"] == 2
    assert payload["metrics"]["fd:mnist-classifier"]["value"] > 0
