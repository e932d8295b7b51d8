"""Plugin discovery through entry points, broken plugins, and every error a plugin user can meet.

Hermetic: other plugins installed in the environment may add names, so the tests assert that
names are included (or filter by distribution), never exact full lists.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

import gan_regularizers
from gan_regularizers import (
    get_augmentation,
    get_loss,
    get_regularizer,
    hookimpl,
    list_augmentations,
    list_losses,
    list_plugins,
    list_regularizers,
)
from gan_regularizers.errors import (
    DuplicateNameError,
    PluginContractError,
    PluginLoadWarning,
    UnknownNameError,
)
from gan_regularizers.plugin_system.contracts import DiscriminatorBatch

LOSS_PLUGIN = """
from gan_regularizers import hookimpl

class Hinge:
    def discriminator_loss(self, real_logits, fake_logits):
        return (1 - real_logits).clamp(min=0).mean() + (1 + fake_logits).clamp(min=0).mean()
    def generator_loss(self, fake_logits, real_logits=None):
        return -fake_logits.mean()

@hookimpl
def register_losses(register):
    for name in {names!r}:
        register(name, Hinge)
"""

BUILTINS = {
    "bce": {"loss": ["bce"]},
    "lsgan": {"loss": ["lsgan"]},
    "hinge": {"loss": ["hinge"]},
    "wasserstein": {"loss": ["wasserstein"]},
    "rpgan": {"loss": ["rpgan"]},
    "gradient_penalties": {"regularizer": ["gradient-penalty", "r1", "r2"]},
    "lecam": {"regularizer": ["lecam"]},
    "diffaugment": {"augmentation": ["diffaugment"]},
    "centroid": {"regularizer": ["centroid"]},
}


def loss_plugin(*names: str) -> str:
    return LOSS_PLUGIN.format(names=list(names))


def plugins_by_name() -> dict[str, gan_regularizers.PluginInfo]:
    return {(p.name, p.distribution): p for p in list_plugins()}


def test_builtins_load_through_our_own_entry_points() -> None:
    plugins = plugins_by_name()
    for name, registers in BUILTINS.items():
        info = plugins[(name, "gan-regularizers")]
        assert info.version == gan_regularizers.__version__
        assert info.registers == registers, name
        assert (info.status, info.error) == ("ok", None)


def test_the_standard_toolkit_is_registered_by_name() -> None:
    assert {"bce", "lsgan", "hinge", "wasserstein", "rpgan"} <= set(list_losses())
    assert {"centroid", "r1", "r2", "gradient-penalty", "lecam"} <= set(list_regularizers())
    assert "diffaugment" in list_augmentations()


def test_unknown_name_is_a_key_error_with_suggestion_and_list() -> None:
    with pytest.raises(KeyError) as caught:
        get_loss("lsgna")
    error = caught.value
    assert isinstance(error, UnknownNameError)
    message = str(error)
    assert "Did you mean 'lsgan'?" in message
    listed = message.split("Available losses: ")[1].split(". Install")[0].split(", ")
    assert {"bce", "hinge", "lsgan", "rpgan", "wasserstein"} <= set(listed)
    assert listed == sorted(listed)
    assert not message.startswith('"')  # a readable message, not KeyError's repr


def test_unknown_name_without_close_match_lists_what_exists() -> None:
    expected = r"Unknown regularizer 'qqq'\. Available regularizers: .*centroid"
    with pytest.raises(UnknownNameError, match=expected):
        get_regularizer("qqq")


class RuntimePlugin:
    """A plugin object registered at run time, as a test or a notebook would."""

    @hookimpl
    def register_regularizers(self, register):
        register("runtime-scale", lambda weight=1.0: lambda fake: weight * fake.sum())


def test_runtime_plugin_is_listed_and_usable(register_plugin) -> None:
    register_plugin(RuntimePlugin(), "runtime-plugin")
    assert "runtime-scale" in list_regularizers()
    regularizer = get_regularizer("runtime-scale", weight=2.0)
    assert regularizer(torch.tensor([1.0, 2.5])).item() == 7.0
    info = plugins_by_name()[("runtime-plugin", None)]
    assert info.registers == {"regularizer": ["runtime-scale"]}


def test_runtime_plugin_fixture_unregisters_afterwards() -> None:
    assert "runtime-scale" not in list_regularizers()


def test_same_name_from_two_distributions_fails_only_for_that_name(install_distribution) -> None:
    install_distribution("first-dist", {"hinge_a": "hinge_a"}, {"hinge_a": loss_plugin("twin")})
    install_distribution(
        "second-dist", {"hinge_b": "hinge_b"}, {"hinge_b": loss_plugin("twin", "only-b")}
    )
    assert {"bce", "twin", "only-b"} <= set(list_losses())
    assert get_loss("only-b").generator_loss(torch.tensor([2.0, 4.0])).item() == -3.0
    assert get_loss("bce") is not None
    with pytest.raises(DuplicateNameError) as caught:
        get_loss("twin")
    message = str(caught.value)
    assert "first-dist" in message and "second-dist" in message
    assert "'twin'" in message and "GAN_REGULARIZERS_DISABLE_PLUGINS" in message
    registers = {p.distribution: p.registers for p in list_plugins()}
    assert registers["second-dist"] == {"loss": ["only-b", "twin"]}


def test_same_plugin_name_from_two_distributions_skips_the_second(install_distribution) -> None:
    install_distribution("alpha-dist", {"shared": "shared_x"}, {"shared_x": loss_plugin("x")})
    install_distribution("beta-dist", {"shared": "shared_y"}, {"shared_y": loss_plugin("y")})
    with pytest.warns(PluginLoadWarning) as caught:
        names = list_losses()
    message = " ".join(str(w.message) for w in caught)
    assert "alpha-dist" in message and "beta-dist" in message
    assert "rename the entry point 'shared'" in message  # disabling 'shared' would drop both
    # sys.path order decides which is first; exactly one of them is usable
    assert len({"x", "y"} & set(names)) == 1
    statuses = {p.distribution: p.status for p in list_plugins() if p.name == "shared"}
    assert sorted(statuses.values()) == ["broken", "ok"]


BROKEN_PLUGINS = {
    "import-error": ("import not_a_module_xyz\n", r"failed to import \(ModuleNotFoundError"),
    "sys-exit": ("import sys\nsys.exit(3)\n", r"failed to import \(SystemExit: 3\)"),
    "misspelt-hook": (
        "from gan_regularizers import hookimpl\n@hookimpl\ndef register_loss(register):\n"
        "    register('never', object)\n",
        r"unknown hook 'register_loss' \(did you mean 'register_losses'\?\)",
    ),
    "wrong-signature": (
        "from gan_regularizers import hookimpl\n@hookimpl\ndef register_losses(reg):\n"
        "    reg('never', object)\n",
        r"wrong signature",
    ),
    "no-marker": (
        "def register_losses(register):\n    register('never', object)\n",
        r"defines register_losses without the @hookimpl marker",
    ),
    "non-callable": (
        "from gan_regularizers import hookimpl\n@hookimpl\ndef register_losses(register):\n"
        "    register('never', 42)\n",
        r"register_losses .*factory registered for loss 'never' is a int, not callable",
    ),
    "returns-dict": (
        "from gan_regularizers import hookimpl\n@hookimpl\ndef register_losses(register):\n"
        "    return {'never': object}\n",
        r"returned a dict from register_losses instead of calling register\(name, factory\)",
    ),
    "exit-in-hook": (
        "import sys\nfrom gan_regularizers import hookimpl\n@hookimpl\n"
        "def register_losses(register):\n    sys.exit('bye')\n",
        r"failed in register_losses \(SystemExit: bye\)",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN_PLUGINS))
def test_a_broken_plugin_is_skipped_and_the_rest_works(install_distribution, case: str) -> None:
    source, expected = BROKEN_PLUGINS[case]
    install_distribution("broken-dist", {"broken": "broken_plugin"}, {"broken_plugin": source})
    install_distribution("good-dist", {"good": "good_plugin"}, {"good_plugin": loss_plugin("ok")})
    with pytest.warns(PluginLoadWarning) as caught:
        names = list_losses()
    messages = [str(w.message) for w in caught if "broken-dist" in str(w.message)]
    assert len(messages) == 1, [str(w.message) for w in caught]
    message = messages[0]
    assert "plugin 'broken' (distribution broken-dist 1.0)" in message
    assert "fix or uninstall broken-dist" in message
    assert "GAN_REGULARIZERS_DISABLE_PLUGINS=broken" in message
    assert re.search(expected, message), message
    assert {"bce", "hinge", "ok"} <= set(names) and "never" not in names
    assert get_loss("ok").generator_loss(torch.tensor([2.0, 4.0])).item() == -3.0
    info = plugins_by_name()[("broken", "broken-dist")]
    assert info.status == "broken" and re.search(expected, info.error)
    assert plugins_by_name()[("good", "good-dist")].status == "ok"


def test_disable_env_blocks_plugins_by_name(
    install_distribution, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_distribution(
        "broken-dist", {"broken": "broken_plugin"}, {"broken_plugin": "raise RuntimeError('no')\n"}
    )
    monkeypatch.setenv("GAN_REGULARIZERS_DISABLE_PLUGINS", "broken, lsgan")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        names = list_losses()
    assert not [w for w in caught if "broken-dist" in str(w.message)]  # never imported
    assert "bce" in names and "lsgan" not in names
    assert not {"lsgan", "broken"} & {p.name for p in list_plugins()}
    with pytest.raises(UnknownNameError, match="Unknown loss 'lsgan'"):
        get_loss("lsgan")


class NoGeneratorLoss:
    def discriminator_loss(self, real_logits, fake_logits):
        return real_logits.mean()


class BadSide(torch.nn.Module):
    side = "both"


class FitWithoutFitted(torch.nn.Module):
    def fit(self, data):
        return self

    def forward(self, fake):
        return fake.mean()


class ContractBreakers:
    @hookimpl
    def register_losses(self, register):
        register("no-generator-loss", NoGeneratorLoss)

    @hookimpl
    def register_regularizers(self, register):
        register("bad-side", BadSide)
        register("fit-without-fitted", FitWithoutFitted)

    @hookimpl
    def register_augmentations(self, register):
        register("not-callable", lambda: "flip")


@pytest.mark.parametrize(
    ("get", "name", "expected"),
    [
        (get_loss, "no-generator-loss", r"NoGeneratorLoss that has no generator_loss method"),
        (get_regularizer, "bad-side", r"bad side: .*side is 'both'"),
        (get_regularizer, "fit-without-fitted", r"has fit\(\) but no fitted attribute"),
        (get_augmentation, "not-callable", r"built a str that is not callable"),
    ],
)
def test_objects_breaking_their_contract_are_refused_when_built(
    register_plugin, get, name: str, expected: str
) -> None:
    register_plugin(ContractBreakers(), "contract-breakers")
    with pytest.raises(PluginContractError, match=expected) as caught:
        get(name)
    assert "plugin 'contract-breakers' (registered at run time)" in str(caught.value)
    assert "docs/plugins.md" in str(caught.value)


def test_example_plugin_is_discovered_and_usable_by_name(example_plugin: Path) -> None:
    info = plugins_by_name()[("tv", "gan-regularizers-tv")]
    assert info.version == "0.1.0"
    assert info.registers == {
        "augmentation": ["random-flip"],
        "regularizer": ["logit-penalty", "total-variation"],
        "architecture": ["linear"],
    }
    tv = get_regularizer("total-variation", weight=0.5)
    image = torch.tensor([[[[0.0, 1.0], [1.0, 3.0]]]])
    # vertical diffs: 1, 2 -> mean 1.5; horizontal diffs: 1, 2 -> mean 1.5; 0.5 * 3.0
    assert tv(image).item() == pytest.approx(1.5)


def test_example_discriminator_regularizer_trains_d(example_plugin: Path) -> None:
    penalty = get_regularizer("logit-penalty", weight=0.5)
    assert penalty.side == "discriminator"
    discriminator = torch.nn.Linear(2, 1)
    real, fake = torch.tensor([[1.0, 2.0], [0.0, -1.0]]), torch.zeros(2, 2)
    real_logits = discriminator(real)
    batch = DiscriminatorBatch(discriminator, real, fake, real_logits, discriminator(fake), 1)
    value = penalty(batch)
    assert value.item() == pytest.approx(0.5 * real_logits.square().mean().item())
    value.backward()
    assert discriminator.weight.grad.abs().sum() > 0


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


def test_cli_plugins_lists_builtins_the_example_plugin_and_a_broken_one(
    example_plugin: Path,
) -> None:
    broken = BROKEN_PLUGINS["sys-exit"][0]
    (example_plugin / "broken_plugin.py").write_text(broken)
    info = example_plugin / "broken_dist-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-dist\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[gan_regularizers]\nbroken = broken_plugin\n")
    result = _run_cli("plugins", extra_path=example_plugin)
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    assert "gan-regularizers-tv 0.1.0" in lines["tv"] and "logit-penalty" in lines["tv"]
    assert f"gan-regularizers {gan_regularizers.__version__}" in lines["bce"]
    assert "loss: lsgan" in lines["lsgan"]
    assert "augmentation: diffaugment" in lines["diffaugment"]
    assert "BROKEN: failed to import (SystemExit: 3)" in lines["broken"]
    assert "gan-regularizers plugins: warning: plugin 'broken'" in result.stderr


def test_cli_plugins_json_and_version() -> None:
    result = _run_cli("plugins", "--json")
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["bce"]["registers"] == {"loss": ["bce"]}
    assert rows["gradient_penalties"]["registers"] == {
        "regularizer": ["gradient-penalty", "r1", "r2"]
    }
    assert (rows["gradient_penalties"]["status"], rows["gradient_penalties"]["error"]) == (
        "ok",
        None,
    )
    version = _run_cli("--version")
    assert version.stdout.strip() == f"gan-regularizers {gan_regularizers.__version__}"


def test_cli_without_command_prints_help_and_fails() -> None:
    result = _run_cli()
    assert result.returncode == 2
    assert "plugins" in result.stdout


def test_an_outside_packages_d_side_regularizer_and_augmentation_train_through_the_cli(
    example_plugin: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    result = _run_cli(
        "train",
        "--data=synthetic:num_images=16",
        "--batch-size=8",
        "--steps=4",
        "--set=architecture=dcgan:g_width=4,d_width=4",
        "--set=z_dim=8",
        "--set=grid_size=4",
        "--set=log_every=2",
        "--set=plots=false",
        "--quiet",
        "--regularizer=logit-penalty:weight=0.5",
        "--augment=random-flip:p=0.5",
        f"--out={run}",
        extra_path=example_plugin,
    )
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [row["step"] for row in rows] == [2, 4]
    for row in rows:  # the D-side term is logged and part of L_D, not of L_G
        assert row["reg/logit-penalty"] > 0
        assert row["loss_d"] == pytest.approx(row["loss_d_adv"] + row["reg/logit-penalty"])
    config = (run / "config.toml").read_text()
    assert 'augment = "random-flip:p=0.5"' in config
