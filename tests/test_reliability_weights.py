"""Pretrained files are read weights-only, whoever downloaded them (issue 23: torch hub's cache).

torchvision's loaders unpickle ``$TORCH_HOME/hub/checkpoints/*`` with ``weights_only=False``; a
pickle placed there used to run when the ``vgg16`` space (the centroid's default) or LPIPS's
AlexNet trunk was built. Each test plants such a pickle and checks that no code ran and that the
error names the file.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest
import torch

from gan_regularizers import get_feature_space, get_regularizer
from gan_regularizers.errors import WeightsChecksumError, WeightsFileError, WeightsUnavailableError
from gan_regularizers.features import weights

VGG16_FILE = "vgg16-397923af.pth"
ALEXNET_FILE = "alexnet-owt-7be5be79.pth"


class _Exploit:
    """Unpickling this creates the marker file (``open(marker, "w")``)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (open, (str(self.marker), "w"))


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty ``$TORCH_HOME``; returns its ``hub/checkpoints`` folder (created)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setenv("GAN_REGULARIZERS_OFFLINE", "1")  # nothing may be downloaded
    folder = tmp_path / "torch_home" / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    assert Path(torch.hub.get_dir()) == folder.parent
    return folder


def _plant(path: Path, marker: Path) -> None:
    torch.save({"features.0.weight": torch.zeros(1), "payload": _Exploit(marker)}, path)


def test_the_exploit_runs_when_unpickled_without_weights_only(tmp_path: Path) -> None:
    """The planted file is a real exploit: a plain unpickling creates the marker."""
    marker = tmp_path / "code-ran"
    _plant(tmp_path / "evil.pth", marker)
    torch.load(tmp_path / "evil.pth", weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize("build", ["feature space", "centroid"])
def test_a_pickle_at_vgg16s_hub_cache_path_never_runs(hub: Path, build: str) -> None:
    marker = hub.parent / "code-ran"
    _plant(hub / VGG16_FILE, marker)
    with pytest.raises(WeightsChecksumError) as caught:
        if build == "feature space":
            get_feature_space("vgg16")
        else:
            get_regularizer("centroid", feature_space="vgg16")
    assert not marker.exists()
    message = str(caught.value)
    assert str(hub / VGG16_FILE) in message and "starts with 397923af" in message
    assert "Delete it" in message and "weights=" in message


def test_a_pickle_at_lpips_alexnet_hub_cache_path_never_runs(hub: Path) -> None:
    pytest.importorskip("lpips")
    from gan_regularizers.metrics.lpips_diversity import build_lpips

    marker = hub.parent / "code-ran"
    _plant(hub / ALEXNET_FILE, marker)
    with pytest.raises(WeightsChecksumError, match=r"starts with 7be5be79"):
        build_lpips()
    assert not marker.exists()


def test_a_hub_file_is_read_weights_only_even_when_its_name_carries_no_hash(
    hub: Path,
) -> None:
    """The second line of defence: the file itself is read with ``weights_only=True``."""
    marker = hub.parent / "code-ran"
    _plant(hub / "plain.pth", marker)
    path = weights.hub_file(
        "https://download.example/models/plain.pth", backbone="a test backbone", example="x"
    )
    assert path == hub / "plain.pth"
    with pytest.raises(WeightsFileError, match=r"Could not read .*plain\.pth"):
        weights.load_state_dict_file(path)
    assert not marker.exists()


def test_a_cached_file_with_a_matching_name_is_loaded(hub: Path) -> None:
    state = {"layer.weight": torch.arange(6.0).reshape(2, 3)}
    torch.save(state, hub / "tiny.pth")
    digest = weights.file_sha256(hub / "tiny.pth")
    named = hub / f"tiny-{digest[:8]}.pth"
    (hub / "tiny.pth").rename(named)
    path = weights.hub_file(
        f"https://download.example/models/{named.name}", backbone="tiny", example="x"
    )
    loaded = weights.load_state_dict_file(path)
    assert torch.equal(loaded["layer.weight"], state["layer.weight"])


# -- the offline note: the spec option, and the extra only when it is missing ---------------------
def test_the_offline_note_points_at_the_spec_option_not_an_installed_extra(hub: Path) -> None:
    with pytest.raises(WeightsUnavailableError) as caught:
        get_feature_space("vgg16")
    message = str(caught.value)
    assert f"In a spec (CLI, TOML): centroid:feature_space=vgg16,weights={VGG16_FILE}" in message
    assert "pip install" not in message


def test_the_extra_is_named_only_when_one_of_its_packages_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def note() -> str:
        return str(
            weights.unavailable_error(
                backbone="LPIPS", expected="/x", reason="offline", extra="metrics", example="e"
            )
        )

    assert weights.missing_extra_requirements("metrics") == []
    assert "pip install" not in note()
    real_version = importlib.metadata.version

    def version(name: str) -> str:
        if name == "lpips":
            raise importlib.metadata.PackageNotFoundError(name)
        return real_version(name)

    monkeypatch.setattr(importlib.metadata, "version", version)
    assert weights.missing_extra_requirements("metrics") == ["lpips"]
    assert 'It also needs lpips: pip install "gan-regularizers[metrics]".' in note()


@pytest.mark.parametrize("value", [0.1, 3, True])
def test_a_number_for_weights_is_a_clear_error(value: object) -> None:
    with pytest.raises(WeightsFileError, match=r"expected the path of a local weights file") as e:
        weights.load_state_dict_file(value)  # type: ignore[arg-type]
    assert ("Did you mean weight=" in str(e.value)) is not isinstance(value, bool)


def test_a_pickle_in_timms_hugging_face_cache_never_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Older timm releases unpickle cached ``.bin`` files with ``weights_only=False``; the
    package reads them itself, weights-only (timm 1.0.31, installed here, is safe either way)."""
    pytest.importorskip("timm")
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    repo = tmp_path / "hub" / "models--timm--resnet18.a1_in1k"
    snapshot = repo / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    marker = tmp_path / "code-ran"
    _plant(snapshot / "pytorch_model.bin", marker)
    with pytest.raises(WeightsFileError, match=r"Could not read .*pytorch_model\.bin"):
        get_feature_space("timm", model="resnet18")
    assert not marker.exists()
