"""Crashes with raw or wrong-cause messages, and messages that named the wrong thing (issue 23).

Each case below used to end in a raw torch/Python error, an "unexpected internal error", no
message at all, or a message that blamed the wrong component. The command-line cases run the
installed command in a real process, as a user would.
"""

from __future__ import annotations

import resource
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from installed_command import run_command
from torch import nn

from gan_regularizers import get_augmentation, get_loss, get_regularizer, hookimpl
from gan_regularizers.errors import (
    CacheWarning,
    GradientPenaltyError,
    InputTypeError,
    PluginContractError,
    PluginLoadWarning,
    PluginOptionError,
    WeightsFileError,
)
from gan_regularizers.plugin_system.registry import list_losses, list_plugins

# -- a nearly full cache disk: fit goes on without the mnist5k cache ------------------------------
SIZE_LIMIT = 1 << 20  # the parsed digits take 3.9 MB; the statistics files a few KB


def _limit_file_size() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (SIZE_LIMIT, SIZE_LIMIT))


def test_fit_on_a_nearly_full_cache_disk_warns_and_finishes(tmp_path: Path) -> None:
    out = tmp_path / "stats.pt"
    code, errors, stderr = run_command(
        *("fit", "--feature-space", "mnist-features", "--out", str(out), "--quiet"),
        *("--max-images", "64"),
        env={"GAN_REGULARIZERS_CACHE": str(tmp_path / "cache")},
        preexec_fn=_limit_file_size,
    )
    assert code == 0, stderr
    assert "Traceback" not in stderr and "unexpected internal error" not in stderr
    assert "could not cache the parsed mnist5k digits" in stderr
    assert "a full disk or a file size limit" in stderr and "Free some space" in stderr
    assert out.is_file() and errors == []
    assert not list((tmp_path / "cache" / "mnist5k").iterdir())  # no half-written entry


def test_the_mnist5k_cache_write_catches_torchs_writer_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gan_regularizers.data import mnist5k

    def full_disk(payload: object, file: object) -> None:
        raise RuntimeError("[enforce fail at inline_container.cc:671] . unexpected pos 832 vs 726")

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.warns(CacheWarning, match=r"RuntimeError: \[enforce fail.*Free some space"):
        mnist5k._write_cache(tmp_path / "m.pt", *_tiny_arrays())
    assert not (tmp_path / "m.pt").exists()


def _tiny_arrays() -> tuple[object, object]:
    import numpy as np

    return np.zeros((2, 28, 28), dtype=np.uint8), np.zeros(2, dtype=np.int64)


# -- a third-party entry point named like a built-in ----------------------------------------------
IMPOSTOR = """
from gan_regularizers import hookimpl

@hookimpl
def register_losses(register):
    register("impostor-loss", lambda: None)
"""


def test_an_entry_point_named_like_a_builtin_keeps_the_builtin(
    install_distribution: Callable[..., Path],
) -> None:
    install_distribution("shadow-plugins", {"hinge": "shadow_hinge"}, {"shadow_hinge": IMPOSTOR})
    with pytest.warns(PluginLoadWarning) as caught:
        assert type(get_loss("hinge")).__name__ == "HingeAdversarialLoss"
    message = " ".join(str(w.message) for w in caught)
    assert "plugin 'hinge' (distribution shadow-plugins 1.0)" in message
    assert "built-in plugin of gan-regularizers, which is kept" in message
    assert "rename the entry point 'hinge' in shadow-plugins's" in message
    assert "uninstall gan-regularizers" not in message and "DISABLE_PLUGINS=hinge" not in message
    assert "impostor-loss" not in list_losses()
    broken = [p for p in list_plugins() if p.distribution == "shadow-plugins"]
    assert [p.status for p in broken] == ["broken"]


def test_the_installed_command_lists_the_builtin_and_names_the_impostor(tmp_path: Path) -> None:
    from conftest import write_distribution

    root = write_distribution(
        tmp_path / "site", "shadow-plugins", "1.0", {"hinge": "shadow_hinge"},
        {"shadow_hinge": IMPOSTOR},
    )  # fmt: skip
    code, errors, stderr = run_command(
        *("train", "--loss", "hinge", "--data", "synthetic:num_images=16", "--batch-size", "8"),
        *("--steps", "1", "--architecture", "dcgan:g_width=4,d_width=4", "--set", "z_dim=8"),
        *("--quiet", "--out", str(tmp_path / "run")),
        env={"PYTHONPATH": str(root)},
    )
    assert code == 0 and not [line for line in errors if ": error: " in line], stderr
    assert "plugin 'hinge' (distribution shadow-plugins 1.0) uses the plugin name" in stderr
    assert "which is kept" in stderr and (tmp_path / "run" / "checkpoint.pt").is_file()


# -- a plugin factory that calls sys.exit ----------------------------------------------------------
class _Quitter:
    @hookimpl
    def register_losses(self, register: Callable[..., None]) -> None:
        register("quitter", lambda: sys.exit(3))


def test_a_factory_that_calls_sys_exit_is_a_clear_error(
    register_plugin: Callable[[object, str], None],
) -> None:
    register_plugin(_Quitter(), "quitter-plugin")
    with pytest.raises(PluginContractError) as caught:
        get_loss("quitter")
    message = str(caught.value)
    assert "plugin 'quitter-plugin' (registered at run time) called sys.exit(3)" in message
    assert "while building the loss 'quitter'" in message and "raise an exception" in message


QUITTER = """
import sys
from gan_regularizers import hookimpl

@hookimpl
def register_losses(register):
    register("quitter", lambda: sys.exit(3))
"""


def test_train_with_a_factory_that_calls_sys_exit_says_so(tmp_path: Path) -> None:
    from conftest import write_distribution

    root = write_distribution(
        tmp_path / "site", "quitting-plugins", "2.0", {"quitting": "quitting_losses"},
        {"quitting_losses": QUITTER},
    )  # fmt: skip
    code, errors, stderr = run_command(
        *("train", "--loss", "quitter", "--data", "synthetic:num_images=16", "--steps", "1"),
        *("--quiet", "--out", str(tmp_path / "run")),
        env={"PYTHONPATH": str(root)},
    )
    assert code == 1 and len(errors) == 1, stderr
    assert errors[0].startswith("gan-regularizers train: error: ")
    assert "plugin 'quitting' (quitting-plugins) called sys.exit(3)" in errors[0]
    assert "uninstall quitting-plugins" in errors[0]


# -- gradient penalties on a discriminator that ignores its input ---------------------------------
class _ConstantD(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.bias.expand(images.shape[0])


class _DetachedD(nn.Module):
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return images.detach().flatten(1).sum(1)


@pytest.mark.parametrize("name", ["r1", "r2", "gradient-penalty"])
@pytest.mark.parametrize("make", [_ConstantD, _DetachedD])
def test_a_penalty_on_a_discriminator_that_ignores_its_input_is_a_clear_error(
    name: str, make: type[nn.Module]
) -> None:
    from gan_regularizers.plugin_system.contracts import DiscriminatorBatch

    images = torch.randn(4, 1, 8, 8)
    batch = DiscriminatorBatch(
        discriminator=make(), real=images, fake=images.flip(0), real_logits=torch.zeros(4),
        fake_logits=torch.zeros(4), step=1, augment=lambda x: x,
    )  # fmt: skip
    with pytest.raises(GradientPenaltyError) as caught:
        get_regularizer(name)(batch)
    assert str(caught.value).startswith(f"{name}: the discriminator's output does not depend")
    assert "appears to not have been used" not in str(caught.value)


def test_a_penalty_on_a_discriminator_that_uses_its_input_is_unchanged() -> None:
    from gan_regularizers.plugins.gradient_penalties import r1_penalty

    images = torch.randn(3, 1, 4, 4, dtype=torch.float64)
    weight = torch.randn(16, dtype=torch.float64)

    def linear(x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1) @ weight

    # ∇ₓ(w·x) = w for every sample: γ/2 · ‖w‖² exactly
    expected = 0.5 * 10.0 * float(weight.square().sum())
    assert float(r1_penalty(linear, images, 10.0)) == pytest.approx(expected, rel=1e-12)


# -- diffaugment on uint8 images -----------------------------------------------------------------
def test_diffaugment_on_uint8_images_is_a_clear_error() -> None:
    pixels = torch.randint(0, 256, (2, 3, 8, 8), dtype=torch.uint8)
    with pytest.raises(InputTypeError) as caught:
        get_augmentation("diffaugment")(pixels)
    message = str(caught.value)
    assert message.startswith("diffaugment: the images have integer dtype torch.uint8")
    assert "images.float() / 127.5 - 1" in message


# -- options named on the right component --------------------------------------------------------
def test_a_misspelt_centroid_option_lists_the_centroids_options() -> None:
    with pytest.raises(PluginOptionError) as caught:
        get_regularizer("centroid", feature_space="mnist-features", weigth=0.1)
    message = str(caught.value)
    assert message.startswith("regularizer 'centroid' got unknown option(s) weigth.")
    assert "Did you mean 'weight'?" in message
    assert "It accepts: feature_space, weight, preset" in message and "warmup_steps" in message
    assert "its feature space 'mnist-features', which accepts: pretrained, weights" in message
    assert isinstance(caught.value, TypeError)


def test_a_number_for_weights_is_named_and_suggests_weight() -> None:
    with pytest.raises(PluginOptionError) as caught:
        get_regularizer("centroid", feature_space="mnist-features", weights=0.1)
    message = str(caught.value)
    assert "option weights=0.1: expected a file path, got float 0.1" in message
    assert "Did you mean 'weight'?" in message
    assert "expected str, bytes or os.PathLike object" not in message


def test_a_number_for_weights_in_a_space_with_free_options_is_named(tmp_path: Path) -> None:
    with pytest.raises((PluginOptionError, WeightsFileError), match=r"weights=0\.1.*file path"):
        get_regularizer("centroid", feature_space="vgg16", weights=0.1)


def test_the_installed_command_names_the_centroids_option(tmp_path: Path) -> None:
    code, errors, stderr = run_command(
        *("fit", "--feature-space", "mnist-features:weigth=0.1"),
        *("--data", "synthetic:num_images=16", "--out", str(tmp_path / "s.pt"), "--quiet"),
        env={"GAN_REGULARIZERS_CACHE": str(tmp_path / "cache")},
    )
    assert code == 1 and len(errors) == 1, stderr
    assert "regularizer 'centroid' got unknown option(s) weigth" in errors[0]
    assert "Did you mean 'weight'?" in errors[0]


def test_data_path_without_folder_prefix_suggests_it(tmp_path: Path) -> None:
    path = tmp_path / "my-images"
    path.mkdir()
    code, errors, stderr = run_command(
        *("fit", "--feature-space", "mnist-features", "--data", str(path)),
        *("--out", str(tmp_path / "s.pt"), "--quiet"),
    )
    assert code == 1 and len(errors) == 1, stderr
    assert f"Unknown dataset '{path}'. {path} is a folder" in errors[0]
    assert f"pass --data folder:{path}" in errors[0]


def test_a_data_spec_that_is_no_folder_gets_no_folder_hint(tmp_path: Path) -> None:
    from gan_regularizers.data.sources import load_dataset
    from gan_regularizers.errors import DataSpecError

    with pytest.raises(DataSpecError) as caught:
        load_dataset(str(tmp_path / "missing"))
    assert "folder:" in str(caught.value) and "is a folder" not in str(caught.value)
