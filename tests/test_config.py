"""The training config: paper defaults, TOML round trip, overrides, and every validation error."""

from __future__ import annotations

from pathlib import Path

import pytest

from gan_regularizers.cli import build_parser
from gan_regularizers.commands.train import FLAGS, overrides_from
from gan_regularizers.plugin_system.specs import SpecError, format_spec, parse_spec
from gan_regularizers.training.config import ConfigError, TrainConfig, config_keys, load_config


def test_defaults_are_the_papers() -> None:
    config = TrainConfig()
    assert (config.z_dim, config.g_lr, config.d_lr) == (100, 2e-4, 2e-4)
    assert (config.beta1, config.beta2, config.batch_size) == (0.5, 0.999, 128)
    assert (config.loss, config.data, config.regularizers) == ("bce", "mnist5k", [])


def test_toml_round_trip_and_overrides(tmp_path: Path) -> None:
    config = TrainConfig(regularizers=["centroid:weight=0.1,feature_space=vgg16"], steps=7)
    path = tmp_path / "config.toml"
    path.write_text(config.to_toml())
    assert load_config(path) == config
    changed = load_config(path, {"steps": "12", "quiet": "true", "g_lr": "1e-4"})
    assert (changed.steps, changed.quiet, changed.g_lr) == (12, True, 1e-4)
    assert changed.regularizers == config.regularizers


def test_unknown_key_in_file_is_named_with_a_suggestion(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('stepz = 10\nloss = "bce"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "Unknown config key 'stepz'" in message
    assert "Did you mean 'steps'?" in message
    assert str(path) in message


def test_unknown_override_is_named() -> None:
    with pytest.raises(ConfigError, match=r"Unknown config key 'learning_rate' in the overrides"):
        load_config(None, {"learning_rate": 1e-3})


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("image_size", 48, r"'image_size': expected one of 32, 64, got 48"),
        ("batch_size", "many", r"'batch_size': expected an integer, got 'many'"),
        ("batch_size", 0, r"'batch_size': expected an integer ≥ 1, got 0"),
        ("amp", "fp16", r"'amp': expected one of 'none', 'bf16', got 'fp16'"),
        ("beta1", 1.0, r"'beta1': Adam's beta must lie in \[0, 1\)"),
        ("g_lr", -1, r"'g_lr': the learning rate must be > 0"),
        ("g_lr", float("nan"), r"'g_lr': expected a finite number"),
        ("device", "tpu", r"'device': expected 'auto', 'cpu', 'cuda' or 'cuda:N'"),
        ("quiet", "maybe", r"'quiet': expected true or false"),
        ("steps", True, r"'steps': expected an integer, got True"),
        ("regularizers", [1], r"'regularizers': expected a list of strings"),
        ("ema_decay", 1.0, r"'ema_decay': the EMA decay must lie in \[0, 1\)"),
        ("threads", -1, r"'threads': expected an integer ≥ 0"),
    ],
)
def test_invalid_values_name_the_key(key: str, value: object, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        load_config(None, {key: value})


def test_invalid_toml_says_so(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("steps = = 3\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_config(path)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml")


def test_cli_flags_and_set_become_overrides() -> None:
    args = build_parser().parse_args(
        [
            "train",
            "--steps", "5",
            "--loss", "lsgan",
            "--regularizer", "centroid:weight=0.1,feature_space=vgg16",
            "--regularizer", "total-variation",
            "--set", "g_lr=1e-4",
            "--quiet",
            "--out", "runs/x",
        ]
    )  # fmt: skip
    overrides = overrides_from(args)
    assert overrides == {
        "g_lr": "1e-4",
        "steps": 5,
        "loss": "lsgan",
        "regularizers": ["centroid:weight=0.1,feature_space=vgg16", "total-variation"],
        "quiet": True,
        "run_dir": "runs/x",
    }
    out = build_parser().parse_args(["train", "--out", "o", "--augment", "flip", "--threads", "2"])
    assert overrides_from(out) == {"run_dir": "o", "augment": "flip", "threads": 2}
    assert load_config(None, overrides).g_lr == 1e-4
    assert set(overrides) <= set(config_keys())


def test_lr_sets_both_players_and_the_per_player_flags_win() -> None:
    both = build_parser().parse_args(["train", "--lr", "3e-4"])
    assert overrides_from(both) == {"g_lr": 3e-4, "d_lr": 3e-4}
    one = build_parser().parse_args(["train", "--lr", "3e-4", "--d-lr", "1e-4", "--set", "g_lr=5"])
    assert overrides_from(one) == {"g_lr": 3e-4, "d_lr": 1e-4}


def test_train_help_shows_every_default(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    defaults = TrainConfig()
    for _, key, _, _ in FLAGS:
        value = getattr(defaults, key)
        assert f"(default: {value!r})" in text if value == "" else f"(default: {value})" in text
    flags = [a for a in text.split() if a.startswith("--")]
    for flag in ("--lr", "--g-lr", "--d-lr", "--out", "--regularizer", "--resume", "--quiet"):
        assert flag in flags
    assert text.count("default: ") >= len(FLAGS) + 6  # --lr, --out, --regularizer, --resume, …


def test_specs_parse_typed_values_and_round_trip() -> None:
    name, options = parse_spec("centroid:weight=0.1,feature_space=vgg16,every=4,lazy=TRUE")
    assert name == "centroid"
    assert options == {"weight": 0.1, "feature_space": "vgg16", "every": 4, "lazy": True}
    assert isinstance(options["every"], int) and isinstance(options["lazy"], bool)
    assert parse_spec(format_spec(name, options)) == (name, options)
    assert parse_spec("bce") == ("bce", {})


def test_a_list_valued_option_keeps_its_commas() -> None:
    spec = "diffaugment:policy=color,translation,cutout,adaptive=true"
    assert parse_spec(spec) == (
        "diffaugment",
        {"policy": "color,translation,cutout", "adaptive": True},
    )


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("centroid:weight", r"option 'weight' is not key=value"),
        (":weight=1", r"has no name"),
        ("centroid:weight=1,weight=2", r"option 'weight' is given twice"),
    ],
)
def test_bad_specs_say_what_to_write(spec: str, expected: str) -> None:
    with pytest.raises(SpecError, match=expected):
        parse_spec(spec)


def test_every_shipped_config_file_loads() -> None:
    configs = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.toml"))
    assert len(configs) >= 3
    loaded = {path.stem: load_config(path) for path in configs}
    toolkit = loaded["mnist5k_toolkit"]
    assert (toolkit.loss, toolkit.augment, toolkit.ema_decay) == (
        "hinge",
        "diffaugment:policy=color,translation,cutout",
        0.999,
    )
    assert parse_spec(toolkit.regularizers[0]) == ("r1", {"gamma": 10, "every": 16})
