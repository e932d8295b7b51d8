"""The built-in feature spaces: shapes, freezing, gradients, descriptors, weights, offline errors.

Nothing here downloads: spaces are built with ``pretrained=False`` or from files written to
``tmp_path``, and the offline tests set ``HF_HUB_OFFLINE=1`` with empty caches. Small models
(``ViT-S-32``, ``vit_tiny_patch16_224``, ``resnet18``) stand in for the big defaults, which are
built once for their shapes.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gan_regularizers import get_feature_space, list_feature_spaces
from gan_regularizers.errors import MissingExtraError
from gan_regularizers.features.base import IMAGENET_MEAN, IMAGENET_STD, FeatureSpace
from gan_regularizers.features.weights import (
    RandomWeightsWarning,
    WeightsFileError,
    WeightsUnavailableError,
    can_connect,
    file_sha256,
)

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)

# name -> (small options, feature dimension)
SMALL: dict[str, tuple[dict[str, Any], int]] = {
    "vgg16": ({}, 256 * 4 * 4),  # pool3 of a 32×32 input
    "clip": ({"model": "ViT-S-32"}, 384),
    "dino": ({"model": "vit_tiny_patch16_224", "input_size": 32}, 192),
    "timm": ({"model": "resnet18", "input_size": 32}, 512),
}
_BUILT: dict[str, FeatureSpace] = {}


def random_space(name: str, **options: Any) -> FeatureSpace:
    """``get_feature_space(name, pretrained=False, **options)``, checking the random warning."""
    with pytest.warns(RandomWeightsWarning, match=f"'{name}' feature space uses randomly"):
        space = get_feature_space(name, pretrained=False, **options)
    assert isinstance(space, FeatureSpace)
    return space


def small_space(name: str) -> FeatureSpace:
    """One small randomly initialised space per name, shared by the tests of this module."""
    if name not in _BUILT:
        torch.manual_seed(0)
        _BUILT[name] = random_space(name, **SMALL[name][0])
    return _BUILT[name]


def batch(n: int = 3, size: int = 32, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, size, size, generator=generator) * 2 - 1


def normalised(x: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """The reference preprocessing, written out: [-1, 1] → [0, 1] → (x - mean) / std."""
    return ((x + 1) / 2 - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)


def test_every_builtin_space_is_registered() -> None:
    assert {"vgg16", "clip", "dino", "timm"} <= set(list_feature_spaces())


# -- the interface, for every space -------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(SMALL))
def test_output_is_b_by_d_float32_and_parameters_are_frozen(name: str) -> None:
    space = small_space(name)
    features = space(batch())
    assert features.shape == (3, SMALL[name][1])
    assert features.dtype == torch.float32
    assert torch.isfinite(features).all() and features.abs().sum() > 0
    assert list(space.parameters()), "a feature space without parameters?"
    assert not any(p.requires_grad for p in space.parameters())


@pytest.mark.parametrize("name", sorted(SMALL))
def test_stays_in_eval_mode_when_a_parent_calls_train(name: str) -> None:
    space = small_space(name)
    parent = nn.Sequential(nn.Identity(), space)
    parent.train()
    assert parent.training
    assert not any(module.training for module in space.modules())


@pytest.mark.parametrize("name", sorted(SMALL))
def test_gradients_reach_the_input_images_but_not_the_weights(name: str) -> None:
    space = small_space(name)
    images = batch(2).requires_grad_(True)
    space(images).square().sum().backward()
    assert images.grad is not None
    assert torch.isfinite(images.grad).all()
    assert images.grad.abs().sum() > 0
    assert all(p.grad is None for p in space.parameters())


@pytest.mark.parametrize("name", sorted(SMALL))
def test_features_do_not_depend_on_the_batch_size(name: str) -> None:
    space = small_space(name)
    images = batch(4, seed=1)
    together = space.extract(images, batch_size=4)
    one_by_one = space.extract(images, batch_size=1)
    scale = together.abs().max().item()
    assert (together - one_by_one).abs().max().item() <= 1e-5 * max(scale, 1.0)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_extract_runs_under_inference_mode_and_matches_forward(name: str) -> None:
    space = small_space(name)
    images = batch(2, seed=2)
    extracted = space.extract(images)
    assert extracted.is_inference()
    with torch.no_grad():
        assert torch.allclose(extracted, space(images), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_descriptor_is_plain_json_and_names_the_space(name: str) -> None:
    descriptor = small_space(name).descriptor
    assert json.loads(json.dumps(descriptor)) == descriptor
    assert descriptor["feature_space"] == name
    assert descriptor["weights"] == "random" and descriptor["weights_sha256"] is None
    for key in ("backbone", "layer", "pooling", "input_size", "normalization"):
        assert key in descriptor, key
    assert "projection" not in descriptor  # the centroid's own descriptor adds it
    assert descriptor["torch"] == torch.__version__.split("+")[0]
    library = descriptor["library"]
    assert descriptor[library] == __import__(library).__version__.split("+")[0]


@pytest.mark.parametrize("name", ["vgg16", "timm"])  # shared preprocessing: two cheap spaces
def test_zero_one_inputs_give_the_same_features_as_minus_one_one(name: str) -> None:
    space = small_space(name)
    images = batch(2, seed=3)
    zero_one = get_like(space, name, input_range=(0.0, 1.0))
    assert torch.allclose(zero_one.extract((images + 1) / 2), space.extract(images), atol=1e-5)


def get_like(space: FeatureSpace, name: str, **options: Any) -> FeatureSpace:
    """A second space with the same weights as ``space`` and other options."""
    other = random_space(name, **SMALL[name][0], **options)
    other.load_state_dict(space.state_dict())
    return other


def test_the_default_spaces_have_the_documented_shapes() -> None:
    vgg = small_space("vgg16")
    assert vgg(batch(1, size=64)).shape == (1, 256 * 8 * 8)  # the paper: pool3 at 64×64
    assert vgg.descriptor["layer"] == "features.16" and vgg.descriptor["input_size"] is None
    clip = random_space("clip")
    assert clip(batch(1)).shape == (1, 512)
    assert clip.descriptor["backbone"] == "ViT-B-32"
    assert clip.descriptor["pretrained_tag"] == "openai" and clip.descriptor["quick_gelu"]
    assert clip.descriptor["input_size"] == 224 and clip.descriptor["resize_mode"] == "bicubic"
    dino = random_space("dino")
    assert dino(batch(1)).shape == (1, 384)
    assert dino.descriptor["backbone"] == "vit_small_patch16_224.dino"
    assert dino.descriptor["input_size"] == 224
    assert dino.descriptor["normalization"]["mean"] == [0.485, 0.456, 0.406]


# -- descriptors change with what changes the features -----------------------------------------
def test_vgg16_descriptor_and_shape_follow_layer_and_pooling() -> None:
    base = small_space("vgg16")
    relu33 = random_space("vgg16", layer="features.15")
    pooled = random_space("vgg16", pooling="avg")
    resized = random_space("vgg16", resize=64)
    assert relu33(batch(1)).shape == (1, 256 * 8 * 8)
    assert pooled(batch(1)).shape == (1, 256)
    assert resized(batch(1)).shape == (1, 256 * 8 * 8)
    descriptors = [s.descriptor for s in (base, relu33, pooled, resized)]
    assert len({json.dumps(d, sort_keys=True) for d in descriptors}) == 4
    assert resized.descriptor["resize_mode"] == "bilinear" and resized.descriptor["antialias"]


def test_vgg16_avg_pooling_is_the_spatial_mean_of_the_flat_features() -> None:
    base = small_space("vgg16")
    pooled = get_like(base, "vgg16", pooling="avg")
    images = batch(2)
    flat = base.extract(images).view(2, 256, 4, 4)
    assert torch.allclose(pooled.extract(images), flat.mean(dim=(2, 3)), atol=1e-6)


def test_vgg16_unknown_layer_suggests_graph_node_names() -> None:
    with pytest.raises(ValueError, match=r"no graph node 'features.61'.*'features.16'"):
        get_feature_space("vgg16", pretrained=False, layer="features.61")


def test_vgg16_avg_pooling_of_a_flat_layer_is_refused() -> None:
    space = random_space("vgg16", layer="classifier.0", pooling="avg")
    with pytest.raises(ValueError, match=r"needs a spatial layer .* pooling='none'"):
        space(batch(1))


def test_dino_block_and_pooling_change_features_and_descriptor() -> None:
    options = SMALL["dino"][0]
    torch.manual_seed(0)
    token = random_space("dino", **options, block=5)
    mean = random_space("dino", **options, layer="blocks.5", pooling="avg")
    tokens = random_space("dino", **options, block=-7, pooling="none")
    mean.load_state_dict(token.state_dict())
    tokens.load_state_dict(token.state_dict())
    assert len(token.net.blocks) == 6, "blocks after the chosen one are dropped"
    images = batch(2)
    every = tokens.extract(images).view(2, 1 + 4, 192)  # class token + 2×2 patches
    assert torch.allclose(token.extract(images), every[:, 0], atol=1e-6)
    assert torch.allclose(mean.extract(images), every[:, 1:].mean(dim=1), atol=1e-6)
    assert token.descriptor["layer"] == tokens.descriptor["layer"] == "blocks.5"
    assert [d.descriptor["pooling"] for d in (token, mean, tokens)] == ["token", "avg", "none"]
    assert small_space("dino").descriptor["layer"] == "pre_logits"


def test_dino_block_option_errors_are_clear() -> None:
    with pytest.raises(ValueError, match=r"block must be in \[-12, 11\], got 12"):
        get_feature_space("dino", pretrained=False, model="vit_tiny_patch16_224", block=12)
    with pytest.raises(ValueError, match=r"layer must be 'blocks.i'"):
        get_feature_space("dino", pretrained=False, layer="norm")
    with pytest.raises(ValueError, match=r"block= needs a vision transformer"):
        get_feature_space("timm", pretrained=False, model="resnet18", block=1)


def test_timm_pooling_is_passed_to_timm_and_recorded() -> None:
    space = random_space("timm", model="resnet18", input_size=32, pooling="max")
    assert space.descriptor["pooling"] == "max"
    assert small_space("timm").descriptor["pooling"] == "avg"


def test_timm_names_are_checked_with_suggestions() -> None:
    with pytest.raises(ValueError, match=r"no model 'resnet_18'. Did you mean 'resnet18'"):
        get_feature_space("timm", pretrained=False, model="resnet_18")
    with pytest.raises(ValueError, match=r"Invalid pretrained tag .*resnet18.a1_in1k"):
        get_feature_space("timm", pretrained=False, model="resnet18.nope")
    with pytest.raises(ValueError, match=r"pass model='name'"):
        get_feature_space("timm", pretrained=False)


def test_clip_names_and_tags_are_checked() -> None:
    with pytest.raises(ValueError, match=r"no model 'ViT-B-23'. Did you mean 'ViT-B-32'"):
        get_feature_space("clip", pretrained=False, model="ViT-B-23")
    with pytest.raises(ValueError, match=r"no pretrained tag 'opneai' .* openai, laion"):
        get_feature_space("clip", pretrained=False, tag="opneai")
    with pytest.raises(ValueError, match=r"no pretrained weights for 'ViT-S-32'.*weights="):
        get_feature_space("clip", model="ViT-S-32")


def test_clip_normalize_gives_unit_vectors_and_a_new_descriptor() -> None:
    base = small_space("clip")
    unit = get_like(base, "clip", normalize=True)
    images = batch(2)
    raw = base.extract(images)
    assert torch.allclose(unit.extract(images), raw / raw.norm(dim=1, keepdim=True), atol=1e-6)
    assert unit.descriptor != base.descriptor


# -- weights from local files equal the source module's outputs ---------------------------------
def test_vgg16_weights_file_reproduces_torchvision_features_up_to_pool3(tmp_path: Path) -> None:
    from torchvision.models import vgg16

    with torch.device("meta"):
        source = vgg16()
    features = source.features.to_empty(device="cpu")
    torch.manual_seed(1)
    for parameter in features.parameters():
        nn.init.normal_(parameter, std=0.05)
    path = tmp_path / "vgg16-features.pth"
    state = {f"features.{k}": v for k, v in features.state_dict().items()}
    torch.save({"state_dict": state, "epoch": 3}, path)  # a wrapped checkpoint
    with warnings.catch_warnings():
        warnings.simplefilter("error", RandomWeightsWarning)  # a file is not random
        space = get_feature_space("vgg16", weights=str(path))
    images = batch(2, size=64)
    with torch.no_grad():
        expected = features[:17](normalised(images, IMAGENET_MEAN, IMAGENET_STD)).flatten(1)
    assert torch.allclose(space.extract(images), expected, rtol=1e-5, atol=1e-5)
    descriptor = space.descriptor
    assert descriptor["weights"] == "file"
    assert descriptor["weights_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert descriptor != small_space("vgg16").descriptor


def test_clip_weights_file_reproduces_encode_image(tmp_path: Path) -> None:
    import open_clip

    torch.manual_seed(2)
    source = open_clip.create_model("ViT-S-32")
    path = tmp_path / "open_clip_pytorch_model.bin"
    torch.save(source.state_dict(), path)  # the full model: the text tower is ignored
    space = get_feature_space("clip", model="ViT-S-32", weights=path)
    images = batch(2)
    resized = F.interpolate(images, size=224, mode="bicubic", antialias=True, align_corners=False)
    with torch.no_grad():  # resizing commutes with the affine map [-1, 1] → normalised
        expected = source.encode_image(normalised(resized, OPENAI_MEAN, OPENAI_STD))
    assert torch.allclose(space.extract(images), expected, rtol=1e-5, atol=1e-5)
    assert space.descriptor["weights_sha256"] == file_sha256(path)
    assert not hasattr(space, "transformer"), "the text tower is dropped"


def test_timm_weights_file_in_safetensors_reproduces_the_model(tmp_path: Path) -> None:
    import timm
    from safetensors.torch import save_file

    torch.manual_seed(3)
    source = timm.create_model("resnet18").eval()  # with its classifier: ignored on load
    path = tmp_path / "model.safetensors"
    save_file(source.state_dict(), str(path))
    space = get_feature_space("timm", model="resnet18", weights=path, input_size=32)
    images = batch(2)
    with torch.no_grad():
        expected = source.forward_head(
            source.forward_features(normalised(images, IMAGENET_MEAN, IMAGENET_STD)),
            pre_logits=True,
        )
    assert torch.allclose(space.extract(images), expected, rtol=1e-5, atol=1e-5)
    assert space.descriptor["weights_sha256"] == file_sha256(path)
    assert space.descriptor["weights"] == "file"


def test_dino_weights_file_reproduces_timm_and_is_resampled_for_other_sizes(
    tmp_path: Path,
) -> None:
    import timm

    torch.manual_seed(4)
    source = timm.create_model("vit_tiny_patch16_224", num_classes=0, img_size=32)
    path = tmp_path / "vit_tiny.pth"
    torch.save(source.state_dict(), path)
    space = get_feature_space("dino", model="vit_tiny_patch16_224", weights=path, input_size=32)
    images = batch(2)
    with torch.no_grad():
        expected = source(images)  # mean = std = 0.5 for this model: normalised = [-1, 1]
    assert torch.allclose(space.extract(images), expected, rtol=1e-5, atol=1e-5)
    assert space.descriptor["weights_sha256"] == file_sha256(path)
    # 2×2 position embeddings are resampled to 3×3 by timm's checkpoint converter
    larger = get_feature_space("dino", model="vit_tiny_patch16_224", weights=path, input_size=48)
    assert larger.net.pos_embed.shape == (1, 1 + 9, 192)
    assert larger.extract(batch(2, size=48)).shape == (2, 192)


def test_a_weights_file_of_another_network_names_the_missing_keys(tmp_path: Path) -> None:
    path = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(1, 3, 3, 3)}, path)
    with pytest.raises(WeightsFileError) as error:
        get_feature_space("vgg16", weights=path)
    message = str(error.value)
    assert "does not fit vgg16 up to 'features.16'" in message
    assert "missing key(s): features.0.bias, features.0.weight" in message
    assert "conv.weight" in message


def test_a_weights_file_with_wrong_shapes_names_them(tmp_path: Path) -> None:
    path = tmp_path / "wrong.pth"
    state = {k: torch.zeros(1) for k in small_space("timm").net.state_dict()}
    torch.save(state, path)
    with pytest.raises(WeightsFileError, match=r"of another shape: .*\(1,\) \(expected"):
        get_feature_space("timm", model="resnet18", weights=path)


def test_a_missing_weights_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(WeightsFileError, match=r"weights='.*nowhere.pth': no such file"):
        get_feature_space("vgg16", weights=str(tmp_path / "nowhere.pth"))


def test_a_file_without_a_state_dict_says_how_to_save_one(tmp_path: Path) -> None:
    path = tmp_path / "list.pth"
    torch.save([1, 2, 3], path)
    with pytest.raises(WeightsFileError, match=r"torch.save\(model.state_dict\(\), path\)"):
        get_feature_space("vgg16", weights=path)


# -- offline: fail fast, with one clear error ---------------------------------------------------
@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """HF_HUB_OFFLINE=1 and every cache (torch hub, Hugging Face, ~/.cache) empty in tmp_path."""
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for variable in ("TORCH_HOME", "HF_HOME", "XDG_CACHE_HOME", "HOME"):
        monkeypatch.setenv(variable, str(tmp_path / variable.lower()))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf_home" / "hub"))
    yield tmp_path


@pytest.mark.parametrize(
    ("name", "options", "backbone", "where", "extra"),
    [
        ("vgg16", {}, "VGG16_Weights.IMAGENET1K_V1", "torch_home/hub/checkpoints/vgg16-", None),
        ("clip", {}, "open_clip ViT-B-32, pretrained tag 'openai'", "vit_base_patch32", "clip"),
        ("dino", {}, "timm vit_small_patch16_224.dino", "timm--vit_small_patch16_224", "dino"),
        ("timm", {"model": "resnet18"}, "timm resnet18", "timm--resnet18.a1_in1k", "dino"),
        (
            "dinov2",
            {},
            "timm vit_large_patch14_dinov2.lvd142m",
            "timm--vit_large_patch14_dinov2.lvd142m",
            "dino",
        ),
    ],
)
def test_offline_without_cached_weights_fails_fast_with_one_clear_error(
    offline: Path, name: str, options: dict[str, Any], backbone: str, where: str, extra: str | None
) -> None:
    list_feature_spaces()  # load the plugins and their libraries before the clock starts
    __import__({"clip": "open_clip", "vgg16": "torchvision"}.get(name, "timm"))
    started = time.perf_counter()
    with pytest.raises(WeightsUnavailableError) as error:
        get_feature_space(name, **options)
    assert time.perf_counter() - started < 5.0
    message = str(error.value)
    assert f"the '{name}' feature space" in message and backbone in message
    assert "HF_HUB_OFFLINE=1 is set" in message
    assert f"Expected at: {offline}" in message and where in message
    assert "weights=" in message and "pretrained=False" in message
    from gan_regularizers.features.weights import missing_extra_requirements

    if extra and missing_extra_requirements(extra):  # the extra is named only when missing
        assert f'pip install "gan-regularizers[{extra}]"' in message
    else:
        assert "pip install" not in message
    assert isinstance(error.value, OSError)


def test_gan_regularizers_offline_variable_is_honoured(
    offline: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("GAN_REGULARIZERS_OFFLINE", "1")
    with pytest.raises(WeightsUnavailableError, match="GAN_REGULARIZERS_OFFLINE=1 is set"):
        get_feature_space("vgg16")


def test_no_connection_is_detected_without_offline_variables(
    offline: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gan_regularizers.features.weights as weights

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(weights, "can_connect", lambda url, timeout=3.0: False)
    with pytest.raises(WeightsUnavailableError, match=r"no connection to download.pytorch.org:443"):
        get_feature_space("vgg16")


def test_can_connect_answers_quickly_for_open_and_closed_ports() -> None:
    import socket

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert can_connect(f"http://127.0.0.1:{port}/x", timeout=2.0)
    started = time.perf_counter()
    assert not can_connect(f"http://127.0.0.1:{port}/x", timeout=2.0)
    assert time.perf_counter() - started < 2.5


def test_cached_timm_weights_load_offline_through_timm(offline: Path) -> None:
    """A file in the Hugging Face cache is used without any network access."""
    import timm
    from safetensors.torch import save_file

    torch.manual_seed(5)
    source = timm.create_model("resnet18").eval()
    repo = offline / "hf_home" / "hub" / "models--timm--resnet18.a1_in1k"
    snapshot = repo / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    save_file(source.state_dict(), str(snapshot / "model.safetensors"))
    space = get_feature_space("timm", model="resnet18", input_size=32)
    images = batch(2)
    with torch.no_grad():
        expected = source.forward_head(
            source.forward_features(normalised(images, IMAGENET_MEAN, IMAGENET_STD)),
            pre_logits=True,
        )
    assert torch.allclose(space.extract(images), expected, rtol=1e-5, atol=1e-5)
    descriptor = space.descriptor
    assert descriptor["weights"] == "resnet18.a1_in1k"
    assert descriptor["weights_sha256"] == file_sha256(snapshot / "model.safetensors")


# -- missing extras ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "module", "extra", "options"),
    [
        ("clip", "open_clip", "clip", {}),
        ("dino", "timm", "dino", {}),
        ("timm", "timm", "dino", {"model": "resnet18"}),
    ],
)
def test_a_missing_extra_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch, name: str, module: str, extra: str, options: dict[str, Any]
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # import raises ImportError
    with pytest.raises(MissingExtraError) as error:
        get_feature_space(name, pretrained=False, **options)
    message = str(error.value)
    assert f"The '{name}' feature space needs the optional package '{module}'" in message
    assert f'pip install "gan-regularizers[{extra}]"' in message


# -- input handling through a space --------------------------------------------------------------
@pytest.mark.parametrize(
    ("images", "error", "words"),
    [
        (torch.zeros(3, 32, 32), ValueError, "rank 3"),
        (torch.zeros(2, 4, 32, 32), ValueError, "4 channels"),
        (torch.zeros(2, 2, 32, 32), ValueError, "2 channels"),
        (torch.zeros(2, 1, 32, 32), ValueError, "grayscale='repeat'"),
        (torch.zeros(2, 3, 32, 32, dtype=torch.uint8), TypeError, "integer dtype"),
        (torch.full((2, 3, 32, 32), 2.0), ValueError, "range over [2, 2]"),
        (torch.full((2, 3, 32, 32), float("nan")), ValueError, "NaN"),
        (torch.full((2, 3, 32, 32), float("inf")), ValueError, "infinite"),
    ],
)
def test_bad_images_are_refused_by_the_space(
    images: torch.Tensor, error: type[Exception], words: str
) -> None:
    with pytest.raises(error) as raised:
        small_space("vgg16")(images)
    assert words in str(raised.value)
    assert "the input of the 'vgg16' feature space" in str(raised.value)


def test_grayscale_repeat_equals_repeating_the_channel() -> None:
    base = small_space("vgg16")
    gray = get_like(base, "vgg16", grayscale="repeat")
    images = batch(2)[:, :1]
    assert torch.equal(gray.extract(images), base.extract(images.repeat(1, 3, 1, 1)))


def test_bfloat16_autocast_returns_float32_close_to_float32() -> None:
    base = small_space("vgg16")
    fast = get_like(base, "vgg16", dtype="bfloat16")
    images = batch(2)
    exact, approx = base.extract(images), fast.extract(images)
    assert approx.dtype == torch.float32
    assert (approx - exact).norm() / exact.norm() < 5e-2
    assert fast.descriptor == base.descriptor, "autocast is a speed option, not another space"


# -- dinov2: the FD-DINOv2 protocol -------------------------------------------------------------
DINOV2_TEST_MODEL = "vit_small_patch14_dinov2"  # the ViT-L/14 default is too slow on CPU here


def test_dinov2_matches_a_hand_written_protocol() -> None:
    """[-1, 1] → [0, 1] → bicubic antialiased 224 → ImageNet mean/std → class token."""
    torch.manual_seed(0)
    space = random_space("dinov2", model=DINOV2_TEST_MODEL)
    images = batch(2, size=40, seed=4)
    pixels = F.interpolate(
        (images + 1) / 2, size=(224, 224), mode="bicubic", align_corners=False, antialias=True
    )
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    reference = (pixels - mean) / std
    torch.testing.assert_close(space.preprocess(images), reference, rtol=0, atol=1e-6)
    with torch.no_grad():
        tokens = space.net.forward_features(reference)  # B × (1 + 16·16) × D, after the norm
        features = space(images)
    assert tokens.shape[1] == 1 + 16 * 16
    torch.testing.assert_close(features, tokens[:, 0], rtol=1e-5, atol=1e-5)


def test_dinov2_descriptor_is_exact() -> None:
    import timm

    space = random_space("dinov2", model=DINOV2_TEST_MODEL)
    assert space.descriptor == {
        "feature_space": "dinov2",
        "backbone": DINOV2_TEST_MODEL,
        "library": "timm",
        "timm": timm.__version__,
        "weights": "random",
        "weights_sha256": None,
        "layer": "cls_token",
        "pooling": "token",
        "protocol": "Stein et al. 2023 (dgm-eval), as EDM2's FD-DINOv2",
        "input_size": 224,
        "resize_mode": "bicubic",
        "antialias": True,
        "normalization": {"mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)},
        "input_range": [-1.0, 1.0],
        "grayscale": "error",
        "torch": torch.__version__.split("+")[0],
    }
    assert space.differentiable


def test_dinov2_default_is_vit_large_and_the_protocol_cannot_be_changed() -> None:
    from gan_regularizers.plugins.dinov2 import DEFAULT_MODEL, DinoV2FeatureSpace

    assert DEFAULT_MODEL == "vit_large_patch14_dinov2.lvd142m"
    with pytest.raises(TypeError, match="resize_mode"):
        DinoV2FeatureSpace(model=DINOV2_TEST_MODEL, pretrained=False, resize_mode="bilinear")


def test_dinov2_weights_file_gives_the_files_network(tmp_path: Path) -> None:
    import timm
    from safetensors.torch import save_file

    torch.manual_seed(3)
    source = timm.create_model(DINOV2_TEST_MODEL, num_classes=0, img_size=224).eval()
    path = tmp_path / "model.safetensors"
    save_file(source.state_dict(), str(path))
    space = get_feature_space("dinov2", model=DINOV2_TEST_MODEL, weights=path)
    images = batch(1, size=224, seed=6)
    with torch.no_grad():
        expected = source(normalised(images, IMAGENET_MEAN, IMAGENET_STD))
        torch.testing.assert_close(space(images), expected, rtol=1e-5, atol=1e-5)
    assert space.descriptor["weights"] == "file"
    assert space.descriptor["weights_sha256"] == file_sha256(path)


# -- inception: weights are read without unpickling code -----------------------------------------
class _Exploit:
    """Unpickling this runs ``touch MARKER``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        import os

        return (os.system, (f"touch {self.marker}",))


def _random_inception_state() -> dict[str, torch.Tensor]:
    """A random state dict of torch-fidelity's extractor (built without any weights file)."""
    import io

    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    empty = io.BytesIO()
    torch.save({}, empty)
    empty.seek(0)
    original = FeatureExtractorInceptionV3.load_state_dict
    FeatureExtractorInceptionV3.load_state_dict = lambda self, state: None  # type: ignore[method-assign]
    try:
        torch.manual_seed(0)
        extractor = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], empty)
    finally:
        FeatureExtractorInceptionV3.load_state_dict = original  # type: ignore[method-assign]
    return extractor.state_dict()


@pytest.mark.parametrize("where", ["weights=", "torch hub cache"])
def test_inception_never_runs_code_from_a_weights_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    pytest.importorskip("torch_fidelity")
    from gan_regularizers.plugins.inception import inception_cache_file

    marker = tmp_path / "code-ran"
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    path = tmp_path / "evil.pth" if where == "weights=" else inception_cache_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"conv": torch.zeros(1), "payload": _Exploit(marker)}, path)
    options = {"weights": path} if where == "weights=" else {}
    with pytest.raises(WeightsFileError, match="Could not read"):
        get_feature_space("inception", **options)
    assert not marker.exists()


def test_inception_loads_a_safe_weights_file_and_is_not_differentiable(tmp_path: Path) -> None:
    pytest.importorskip("torch_fidelity")
    from gan_regularizers import CentroidLoss
    from gan_regularizers.checks.quantize import to_uint8
    from gan_regularizers.errors import FeatureSpaceError

    state = _random_inception_state()
    path = tmp_path / "inception.pth"
    torch.save(state, path)
    space = get_feature_space("inception", weights=path)
    assert space.descriptor["weights_sha256"] == file_sha256(path)
    assert space.differentiable is False
    loaded = space.extractor.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in state.items())
    images = batch(1, size=40, seed=1)
    with torch.no_grad():
        (expected,) = space.extractor(to_uint8(images, (-1.0, 1.0), "repeat"))
        torch.testing.assert_close(space(images), expected.float())
    with pytest.raises(FeatureSpaceError, match="not differentiable"):
        CentroidLoss(space)


# -- inputs that used to reach torch's internals -------------------------------------------------
def test_a_grayscale_batch_without_channels_says_the_channel_dimension_is_missing() -> None:
    space = small_space("vgg16")
    with pytest.raises(ValueError, match=r"channel dimension is missing.*unsqueeze\(1\)"):
        space(torch.zeros(5, 28, 28))
    with pytest.raises(ValueError, match=r"64 channels .* channel dimension is missing"):
        space(torch.zeros(1, 64, 28, 28))  # the same batch after a loader added a batch axis


def test_too_small_images_and_meta_tensors_are_clear_errors() -> None:
    space = small_space("vgg16")  # features.16: three 2×2 max pools
    assert space.min_image_size == 8
    with pytest.raises(ValueError, match=r"are 4×4, smaller than the 8×8 .* resize="):
        space(batch(2, size=4))
    assert space(batch(2, size=8)).shape == (2, 256)
    with pytest.raises(TypeError, match="'meta' device"):
        space(torch.zeros(2, 3, 32, 32, device="meta"))
    from gan_regularizers import CentroidLoss

    with pytest.raises(TypeError, match="'meta' device"):
        CentroidLoss(nn.Flatten(), progress=False).fit(torch.zeros(4, 3, 2, 2, device="meta"))


# -- one preprocessing object, one descriptor schema ---------------------------------------------
@pytest.mark.parametrize("name", [*sorted(SMALL), "mnist-features"])
def test_every_descriptor_has_the_common_keys(name: str) -> None:
    from gan_regularizers.features.base import DESCRIPTOR_KEYS

    space = small_space(name) if name in SMALL else get_feature_space(name)
    descriptor = space.descriptor
    assert set(DESCRIPTOR_KEYS) <= set(descriptor)
    assert descriptor["feature_space"] == name
    assert {"input_size", "normalization", "input_range", "grayscale", "torch"} <= set(descriptor)


def test_preprocessing_is_one_checked_object() -> None:
    from gan_regularizers.features.preprocessing import Preprocessing

    space = small_space("vgg16")
    assert space.preprocessing == Preprocessing(resize=None, mean=IMAGENET_MEAN, std=IMAGENET_STD)
    assert Preprocessing(resize=(32, 32), resize_mode="nearest").resize == 32
    assert Preprocessing(resize_mode="nearest", antialias=True).antialias is False
    with pytest.raises(TypeError, match=r"unknown option.*input_sise.*preprocessing options are"):
        get_feature_space("vgg16", pretrained=False, input_sise=32)
    with pytest.raises(ValueError, match="resize_mode must be one of"):
        get_feature_space("vgg16", pretrained=False, resize=32, resize_mode="cubic")
    with pytest.warns(RandomWeightsWarning):
        resized = get_feature_space("vgg16", pretrained=False, resize=16)
    assert resized.descriptor["input_size"] == 16
    assert resized(batch(1, size=40)).shape == (1, 256 * 2 * 2)  # pool3 of 16×16: 2×2
    timm_space = random_space("timm", model="resnet18", resize=32)  # resize= is input_size=
    assert timm_space.input_size == 32 and timm_space.descriptor["input_size"] == 32


NOT_SMALL = sorted(set(list_feature_spaces()) - {"clip", "dino", "dinov2", "timm"})


@pytest.mark.parametrize("name", NOT_SMALL)
def test_every_space_names_its_library_and_version(name: str) -> None:
    """The descriptor says which library computes the features, at which version (cache key).

    clip, dino and timm are checked by the descriptor test above (their small random forms);
    dinov2 takes timm's descriptor (a random ViT-S/14 takes seconds to build).
    """
    options = {} if name == "pixels" else {"pretrained": False}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # random weights, on purpose
        descriptor = get_feature_space(name, **options).descriptor
    library = descriptor["library"]
    assert descriptor[library] == __import__(library).__version__.split("+")[0]
