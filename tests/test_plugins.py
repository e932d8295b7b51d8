"""Plugin discovery through entry points, and every error a plugin user can meet."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

import gan_regularizers
from gan_regularizers import (
    DuplicateNameError,
    PluginLoadWarning,
    UnknownNameError,
    get_loss,
    get_regularizer,
    hookimpl,
    list_losses,
    list_plugins,
    list_regularizers,
)
from gan_regularizers.plugin_system.manager import get_plugin_manager

LOSS_PLUGIN = """
from gan_regularizers import hookimpl

class Hinge:
    def discriminator_loss(self, real_logits, fake_logits):
        return (1 - real_logits).clamp(min=0).mean() + (1 + fake_logits).clamp(min=0).mean()
    def generator_loss(self, fake_logits):
        return -fake_logits.mean()

@hookimpl
def register_losses(register):
    register("{name}", Hinge)
"""


class RuntimePlugin:
    """A plugin object registered at run time, as a test or a notebook would."""

    @hookimpl
    def register_regularizers(self, register):
        register("runtime-zero", lambda weight=1.0: lambda fake: weight * fake.sum() * 0)


@pytest.fixture
def runtime_plugin() -> Iterator[None]:
    manager = get_plugin_manager()
    manager.register(RuntimePlugin(), name="runtime-plugin")
    try:
        yield
    finally:
        manager.unregister(name="runtime-plugin")


def test_builtins_load_through_our_own_entry_points() -> None:
    plugins = {info.name: info for info in list_plugins()}
    for name in ("bce", "lsgan"):
        assert plugins[name].distribution == "gan-regularizers"
        assert plugins[name].version == gan_regularizers.__version__
        assert plugins[name].registers == {"loss": [name]}
    assert {"bce", "lsgan"} <= set(list_losses())


def test_unknown_name_is_a_key_error_with_suggestion_and_list() -> None:
    with pytest.raises(KeyError) as caught:
        get_loss("lsgna")
    error = caught.value
    assert isinstance(error, UnknownNameError)
    message = str(error)
    assert "Did you mean 'lsgan'?" in message
    assert "Available losses: bce, lsgan" in message
    assert not message.startswith('"')  # a readable message, not KeyError's repr


def test_unknown_name_without_close_match_lists_what_exists() -> None:
    expected = r"Unknown regularizer 'qqq'\. Available regularizers"
    with pytest.raises(UnknownNameError, match=expected):
        get_regularizer("qqq")


def test_runtime_plugin_is_listed_and_usable(runtime_plugin: None) -> None:
    assert "runtime-zero" in list_regularizers()
    regularizer = get_regularizer("runtime-zero", weight=2.0)
    assert regularizer(torch.ones(3)).item() == 0.0
    info = {p.name: p for p in list_plugins()}["runtime-plugin"]
    assert info.distribution is None
    assert info.registers == {"regularizer": ["runtime-zero"]}


def test_same_name_from_two_distributions_names_both(install_distribution) -> None:
    install_distribution(
        "first-dist", {"hinge_a": "hinge_a"}, {"hinge_a": LOSS_PLUGIN.format(name="hinge")}
    )
    install_distribution(
        "second-dist", {"hinge_b": "hinge_b"}, {"hinge_b": LOSS_PLUGIN.format(name="hinge")}
    )
    with pytest.raises(DuplicateNameError) as caught:
        list_losses()
    message = str(caught.value)
    assert "first-dist" in message and "second-dist" in message
    assert "'hinge'" in message


def test_same_plugin_name_from_two_distributions_names_both(install_distribution) -> None:
    install_distribution(
        "alpha-dist", {"hinge": "hinge_x"}, {"hinge_x": LOSS_PLUGIN.format(name="x")}
    )
    install_distribution(
        "beta-dist", {"hinge": "hinge_y"}, {"hinge_y": LOSS_PLUGIN.format(name="y")}
    )
    with pytest.raises(DuplicateNameError, match=r"alpha-dist.*beta-dist|beta-dist.*alpha-dist"):
        list_losses()


def test_broken_third_party_plugin_warns_and_the_rest_works(install_distribution) -> None:
    install_distribution(
        "broken-dist", {"broken": "broken_plugin"}, {"broken_plugin": "import not_a_module_xyz\n"}
    )
    install_distribution(
        "good-dist", {"hinge": "hinge_ok"}, {"hinge_ok": LOSS_PLUGIN.format(name="hinge")}
    )
    with pytest.warns(PluginLoadWarning, match=r"'broken' \(distribution broken-dist 1.0\)"):
        names = list_losses()
    assert {"bce", "lsgan", "hinge"} <= set(names)
    hinge = get_loss("hinge")
    assert hinge.generator_loss(torch.tensor([2.0, 4.0])).item() == -3.0


def test_disable_env_blocks_plugins_by_name(
    install_distribution, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_distribution(
        "broken-dist", {"broken": "broken_plugin"}, {"broken_plugin": "raise RuntimeError('no')\n"}
    )
    monkeypatch.setenv("GAN_REGULARIZERS_DISABLE_PLUGINS", "broken, lsgan")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the broken plugin is never imported
        names = list_losses()
    assert names == ["bce"]
    assert "lsgan" not in {p.name for p in list_plugins()}
    with pytest.raises(UnknownNameError, match="Unknown loss 'lsgan'"):
        get_loss("lsgan")


def test_example_plugin_is_discovered_and_usable_by_name(example_plugin: Path) -> None:
    info = {p.name: p for p in list_plugins()}["tv"]
    assert (info.distribution, info.version) == ("gan-regularizers-tv", "0.1.0")
    assert info.registers == {"regularizer": ["total-variation"]}
    tv = get_regularizer("total-variation", weight=0.5)
    image = torch.tensor([[[[0.0, 1.0], [1.0, 3.0]]]])
    # vertical diffs: 1, 2 -> mean 1.5; horizontal diffs: 1, 2 -> mean 1.5; 0.5 * 3.0
    assert tv(image).item() == pytest.approx(1.5)


def _run_cli(*args: str, extra_path: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if extra_path is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(extra_path), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "gan_regularizers", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def test_cli_plugins_lists_builtins_and_the_example_plugin(example_plugin: Path) -> None:
    result = _run_cli("plugins", extra_path=example_plugin)
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    assert "gan-regularizers-tv 0.1.0" in lines["tv"] and "total-variation" in lines["tv"]
    assert f"gan-regularizers {gan_regularizers.__version__}" in lines["bce"]
    assert "loss: lsgan" in lines["lsgan"]


def test_cli_plugins_json_and_version() -> None:
    import json

    result = _run_cli("plugins", "--json")
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["bce"]["registers"] == {"loss": ["bce"]}
    version = _run_cli("--version")
    assert version.stdout.strip() == f"gan-regularizers {gan_regularizers.__version__}"


def test_cli_without_command_prints_help_and_fails() -> None:
    result = _run_cli()
    assert result.returncode == 2
    assert "plugins" in result.stdout
