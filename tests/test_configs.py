"""The files in configs/ say what they are: each loads, each command in its comments parses, and
each holds what its comment claims (the demo file is the demo's own recipe, read from the demo)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from doc_blocks import REPO, check_cli_command, cli_arguments

from gan_regularizers.training.config import TrainConfig, load_config, read_config_file

CONFIGS = sorted((REPO / "configs").glob("*.toml"))
# Keys that say where and how a run reports, not what it trains.
PRESENTATION = {"run_dir", "quiet", "plots", "threads"}


def comment_commands(path: Path) -> list[list[str]]:
    """The `gan-regularizers …` commands in a config file's comments (continuations joined)."""
    comments = "\n".join(
        line.lstrip("#").strip() for line in path.read_text().splitlines() if line.startswith("#")
    )
    joined = comments.replace("\\\n", " ")
    commands = []
    for line in joined.splitlines():
        line = line.split("gan-regularizers ", 1)
        if len(line) == 2 and not line[1].startswith("demo`"):
            words = shlex.split("gan-regularizers " + line[1].replace(" ...", ""))
            commands.append(cli_arguments(words) or [])
    return commands


def test_every_config_file_is_listed_here() -> None:
    assert {p.name for p in CONFIGS} == {
        "celeba64_paper.toml",
        "mnist5k_conditional_resnet.toml",
        "mnist5k_demo.toml",
        "mnist5k_toolkit.toml",
        "r3gan_mnist5k.toml",  # loads and its command parses (the generic test below)
    }


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_config_loads_and_its_commands_parse(path: Path) -> None:
    config = load_config(path)
    assert isinstance(config, TrainConfig)
    commands = comment_commands(path)
    assert commands, f"{path.name}: its comment shows no command"
    for arguments in commands:
        arguments = [REPO.joinpath(a).as_posix() if a.startswith("configs/") else a
                     for a in arguments]  # fmt: skip
        check_cli_command(arguments, path.name)


def demo_jobs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, dict[str, Any]]:
    """The configs `gan-regularizers demo` trains on its defaults (captured, not trained)."""
    from gan_regularizers.commands import demo

    captured: dict[str, dict[str, Any]] = {}

    class Captured(Exception):
        pass

    def capture(jobs: list[tuple[str, dict[str, Any]]], settings: object) -> None:
        captured.update(jobs)
        raise Captured

    monkeypatch.setattr(demo, "_train_all", capture)
    with pytest.raises(Captured):
        demo.run_demo(tmp_path / "demo")
    return captured


def recipe(config: TrainConfig) -> dict[str, Any]:
    return {k: v for k, v in config.to_dict().items() if k not in PRESENTATION}


def test_the_demo_file_is_the_demos_recipe(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    jobs = demo_jobs(monkeypatch, tmp_path)
    assert set(jobs) == {"bce", "bce+centroid"}
    path = REPO / "configs" / "mnist5k_demo.toml"
    assert recipe(load_config(path)) == recipe(load_config(None, jobs["bce+centroid"]))
    # its comment: "The BCE-only baseline: add --set regularizers= …"
    assert "--set regularizers=" in path.read_text()
    baseline = load_config(path, {"regularizers": ""})
    assert recipe(baseline) == recipe(load_config(None, jobs["bce"]))


def test_the_demo_file_states_its_recipe_in_its_comment() -> None:
    """The numbers its comment gives (steps, batch, learning rate, EMA) are the file's."""
    path = REPO / "configs" / "mnist5k_demo.toml"
    config, text = load_config(path), path.read_text()
    assert f"{config.steps:,} steps" in text
    assert f"batch {config.batch_size}" in text
    assert f"Adam {config.g_lr:g}" in text and config.g_lr == config.d_lr
    assert f"G-EMA {config.ema_decay:g}" in text


def test_the_conditional_resnet_file_is_the_demos_recipe_on_a_conditional_resnet() -> None:
    """Its comment: the demo's recipe (BCE, no regularizer) with resnet at width 32, labels from
    the dataset."""
    conditional = load_config(REPO / "configs" / "mnist5k_conditional_resnet.toml")
    demo = load_config(REPO / "configs" / "mnist5k_demo.toml", {"regularizers": ""})
    differs = {k for k, v in recipe(conditional).items() if recipe(demo)[k] != v}
    assert differs == {"architecture", "num_classes"}
    assert conditional.architecture == "resnet:g_width=32,d_width=32"
    assert conditional.num_classes == "auto"


def test_the_toolkit_file_is_what_its_comment_and_its_flags_say() -> None:
    path = REPO / "configs" / "mnist5k_toolkit.toml"
    values = read_config_file(path)
    assert values["loss"] == "hinge" and values["data"] == "mnist5k"
    assert values["regularizers"] == ["r1:gamma=10,every=16"]  # "γ = 10, every 16 steps"
    assert values["augment"] == "diffaugment:policy=color,translation,cutout"
    assert values["ema_decay"] == 0.999
    # "The same from flags: …": each flag's value is the file's
    (from_flags,) = [c for c in comment_commands(path) if "--loss" in c]
    from gan_regularizers.cli import build_parser
    from gan_regularizers.commands.train import overrides_from

    overrides = overrides_from(build_parser().parse_args(from_flags))
    flagged = load_config(None, overrides)
    for key in overrides:
        assert getattr(flagged, key) == getattr(load_config(path), key), key


def test_the_celeba_file_is_the_papers_recipe() -> None:
    """Its comment's numbers (Seo & Park 2025, DCGAN): λ = 0.1 in VGG-16 features.16, flattened,
    batch 128, Adam 2e-4 with betas (0.5, 0.999), z = 100, 64×64, BCE."""
    path = REPO / "configs" / "celeba64_paper.toml"
    config, text = load_config(path), path.read_text()
    assert (config.image_size, config.loss, config.z_dim, config.batch_size) == (
        64,
        "bce",
        100,
        128,
    )
    assert (config.g_lr, config.d_lr, config.beta1, config.beta2) == (2e-4, 2e-4, 0.5, 0.999)
    (spec,) = config.regularizers
    name, _, options = spec.partition(":")
    assert name == "centroid"
    assert dict(o.split("=") for o in options.split(",")) == {
        "weight": "0.1", "feature_space": "vgg16", "layer": "features.16", "pooling": "none"
    }  # fmt: skip
    assert f"{config.steps:,} steps" in text and "λ = 0.1" in text and "batch 128" in text
    assert re.search(r"lr 2e-4, betas \(0\.5, 0\.999\), z = 100", text)
