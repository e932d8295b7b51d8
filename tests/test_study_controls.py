"""`pretrained=false` works in every feature space (the random-feature-space control): a seeded
random network, the same on every build, built offline, with a warning, leaving the caller's
random state alone."""

from __future__ import annotations

import warnings

import pytest
import torch

from gan_regularizers import get_feature_space
from gan_regularizers.errors import RandomWeightsWarning

SLOW = pytest.mark.slow  # ViTs of 22–88 M parameters, built twice
SPACES = [
    pytest.param("clip", {}, "open_clip", marks=SLOW),
    pytest.param("dino", {}, "timm", marks=SLOW),
    pytest.param("dinov2", {"model": "vit_small_patch14_dinov2"}, "timm", marks=SLOW),
    ("timm", {"model": "resnet18"}, "timm"),
    ("inception", {}, "torch_fidelity"),
]


def _build(name: str, options: dict) -> torch.nn.Module:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        space = get_feature_space(name, pretrained=False, **options)
    assert any(issubclass(w.category, RandomWeightsWarning) for w in caught)
    return space


@pytest.mark.parametrize(("name", "options", "library"), SPACES)
def test_random_weights_are_seeded_and_leave_the_callers_rng_alone(
    name: str, options: dict, library: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip(library)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # nothing may be downloaded
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    first = _build(name, options)
    assert torch.equal(torch.rand(3), expected_next)  # the caller's RNG did not move
    torch.manual_seed(999)  # another global state: the same network
    second = _build(name, options)
    one, two = first.state_dict(), second.state_dict()
    assert one.keys() == two.keys() and len(one) > 0
    assert all(torch.equal(one[k], two[k]) for k in one)
    weights = [v for v in one.values() if v.is_floating_point() and v.numel() > 1]
    assert any(w.std() > 0 for w in weights)  # initialised, not zeros


def test_a_random_inception_embeds_images() -> None:
    pytest.importorskip("torch_fidelity")
    space = _build("inception", {})
    features = space(torch.rand(2, 3, 32, 32) * 2 - 1)
    assert features.shape == (2, 2048) and torch.isfinite(features).all()
    assert space.descriptor["weights"] == "random" and space.descriptor["weights_sha256"] is None
    with pytest.raises(ValueError, match="contradict"):
        get_feature_space("inception", pretrained=False, weights="w.pth")
