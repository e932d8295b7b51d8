"""LPIPS diversity: the mean LPIPS distance between pairs of distinct generated images.

``div = (1/P) Σ_p LPIPS(x̂_{i_p}, x̂_{j_p})`` over ``P`` seeded pairs with ``i_p ≠ j_p`` and no
pair drawn twice (default 5,000 pairs, AlexNet trunk, LPIPS v0.1, as the paper reports), with a
95 % percentile-bootstrap interval over the pairs. Higher means more diverse samples.

Weights: the LPIPS linear layers ship inside the ``lpips`` package; its AlexNet trunk is
torchvision's ImageNet checkpoint, taken from the torch hub cache (fetched when online), or from
a local file (``weights=``). A randomly initialised trunk is refused unless
``pretrained=False``: its distances mean nothing.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gan_regularizers.checks.images import check_images
from gan_regularizers.errors import InputTypeError
from gan_regularizers.metrics.bootstrap import bootstrap_interval
from gan_regularizers.metrics.result import MetricResult
from gan_regularizers.optional_imports import import_optional

ALEXNET_URL = "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth"
_TRUNK_SLICES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 2, 5: 3, 6: 3, 7: 3, 8: 4, 9: 4, 10: 5, 11: 5}


def sample_pairs(count: int, pairs: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``pairs`` distinct unordered pairs ``(i, j)``, ``i ≠ j``, from ``count`` items, seeded."""
    available = count * (count - 1) // 2
    if pairs < 1:
        raise ValueError(f"pairs must be a positive integer, got {pairs}.")
    if pairs > available:
        raise ValueError(
            f"{pairs} pairs requested but {count} images give only {available} distinct pairs. "
            "Generate more images or ask for fewer pairs."
        )
    generator = torch.Generator().manual_seed(seed)
    chosen: dict[tuple[int, int], None] = {}
    while len(chosen) < pairs:
        need = pairs - len(chosen)
        first = torch.randint(count, (2 * need,), generator=generator)
        second = torch.randint(count - 1, (2 * need,), generator=generator)
        second = second + (second >= first).long()  # skip i itself: j ≠ i, uniform
        for i, j in zip(first.tolist(), second.tolist(), strict=True):
            key = (min(i, j), max(i, j))
            if key not in chosen:
                chosen[key] = None
                if len(chosen) == pairs:
                    break
    index = torch.tensor(list(chosen), dtype=torch.long)
    return index[:, 0], index[:, 1]


def _alexnet_cache_file() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(ALEXNET_URL).name


def _renamed(old: dict[str, Any], weights: Any, pretrained: bool) -> tuple[Any, bool]:
    """Map the deprecated ``backbone_weights`` / ``allow_random_backbone`` to the new names."""
    if "backbone_weights" in old:
        warnings.warn("backbone_weights= is deprecated; use weights=", DeprecationWarning, 3)
        weights = old.pop("backbone_weights")
    if "allow_random_backbone" in old:
        warnings.warn(
            "allow_random_backbone= is deprecated; use pretrained=False", DeprecationWarning, 3
        )
        pretrained = not old.pop("allow_random_backbone")
    if old:
        raise InputTypeError(f"unexpected keyword argument(s): {', '.join(sorted(old))}")
    return weights, pretrained


def build_lpips(
    net: str = "alex",
    weights: str | Path | None = None,
    pretrained: bool = True,
    **deprecated: Any,
) -> nn.Module:
    """The ``lpips`` package's LPIPS v0.1 model, frozen, in eval mode, with checked weights.

    ``weights``: a local AlexNet trunk file; ``pretrained=False`` allows a random trunk (tests
    only: its distances are not LPIPS).
    """
    backbone_weights, pretrained = _renamed(deprecated, weights, pretrained)
    allow_random_backbone = not pretrained
    if net != "alex":
        raise ValueError(f"only the AlexNet trunk (net='alex') is supported, got {net!r}.")
    lpips = import_optional("lpips", "metrics", "LPIPS diversity")
    cached = _alexnet_cache_file()
    random_trunk = backbone_weights is not None or not cached.is_file()
    if random_trunk and backbone_weights is None:
        if allow_random_backbone:
            warnings.warn(
                "LPIPS with a randomly initialised AlexNet trunk: its distances are not LPIPS "
                "and must not be reported.",
                UserWarning,
                stacklevel=2,
            )
        else:
            from gan_regularizers.features.weights import check_fetchable

            check_fetchable(
                ALEXNET_URL,
                backbone="LPIPS AlexNet trunk (torchvision IMAGENET1K_V1)",
                expected=cached,
                extra="metrics",
                example="lpips_diversity(images, weights='alexnet-owt-7be5be79.pth')",
            )
            random_trunk = False  # online: fetched into the hub cache below
    with warnings.catch_warnings(), torch.random.fork_rng():
        warnings.simplefilter("ignore")  # torchvision's deprecated `pretrained=` inside lpips
        torch.manual_seed(0)  # a random trunk is at least the same one every time
        model = lpips.LPIPS(net="alex", version="0.1", pnet_rand=True, verbose=False)
    if not random_trunk:  # torchvision would unpickle the hub cache: read it weights-only here
        _load_trunk(model, _hub_trunk_file())
    if backbone_weights is not None:
        _load_trunk(model, Path(backbone_weights))
        model.trunk_source = f"file {backbone_weights}"
    elif random_trunk:
        model.trunk_source = "random initialisation (not LPIPS)"
    else:
        model.trunk_source = "torchvision AlexNet IMAGENET1K_V1"
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model.eval()


def _hub_trunk_file() -> Path:
    """torchvision's AlexNet file in the hub cache (checked, fetched when online)."""
    from gan_regularizers.features.weights import hub_file

    return hub_file(
        ALEXNET_URL,
        backbone="LPIPS AlexNet trunk (torchvision IMAGENET1K_V1)",
        example="lpips_diversity(images, weights='alexnet-owt-7be5be79.pth')",
        extra="metrics",
        spec="lpips-div:weights=alexnet-owt-7be5be79.pth",
    )


def _load_trunk(model: nn.Module, path: Path) -> None:
    from gan_regularizers.features.weights import WeightsFileError, load_state_dict_file

    state = load_state_dict_file(path)
    mapped = {}
    for key, value in state.items():
        parts = key.split(".")
        if len(parts) == 3 and parts[0] == "features" and int(parts[1]) in _TRUNK_SLICES:
            mapped[f"slice{_TRUNK_SLICES[int(parts[1])]}.{parts[1]}.{parts[2]}"] = value
    try:
        model.net.load_state_dict(mapped, strict=True)
    except RuntimeError as error:
        raise WeightsFileError(
            f"{path} is not a torchvision AlexNet state dict (expected keys features.0.weight "
            f"… features.10.bias): {error}"
        ) from error


def lpips_distances(
    model: nn.Module, first: torch.Tensor, second: torch.Tensor, batch_size: int = 50
) -> torch.Tensor:
    """LPIPS between ``first[k]`` and ``second[k]`` for every ``k``, in float32, batched."""
    device = next(model.parameters()).device
    out = []
    with torch.inference_mode():
        for a, b in zip(first.split(batch_size), second.split(batch_size), strict=True):
            out.append(model(a.to(device).float(), b.to(device).float()).reshape(-1).float().cpu())
    return torch.cat(out)


def lpips_diversity(
    images: torch.Tensor,
    pairs: int = 5000,
    seed: int = 0,
    batch_size: int = 50,
    model: nn.Module | None = None,
    weights: str | Path | None = None,
    pretrained: bool = True,
    **deprecated: Any,
) -> MetricResult:
    """Mean LPIPS over ``pairs`` seeded distinct pairs of ``images`` (``N×C×H×W`` in [−1, 1]).

    1-channel images are repeated to RGB. Pass ``model`` to reuse a built LPIPS.
    """
    images = check_images(images, grayscale="repeat", where="images for LPIPS diversity")
    if min(images.shape[-2:]) < 32:
        raise ValueError(
            f"LPIPS's AlexNet trunk needs images of at least 32×32, got "
            f"{tuple(images.shape[-2:])}. Upsample them first (e.g. F.interpolate to 32×32)."
        )
    first, second = sample_pairs(images.shape[0], pairs, seed)
    weights, pretrained = _renamed(deprecated, weights, pretrained)
    model = model or build_lpips(weights=weights, pretrained=pretrained)
    distances = lpips_distances(model, images[first], images[second], batch_size)
    low, high = bootstrap_interval(distances, seed=seed)
    import lpips as lpips_package

    protocol = {
        "metric": "lpips-div",
        "pairs": pairs,
        "images": int(images.shape[0]),
        "seed": seed,
        "net": "alex",
        "lpips_version": "0.1",
        "lpips_package": getattr(lpips_package, "__version__", "unknown"),
        "trunk": getattr(model, "trunk_source", "given model"),
        "interval": "95% percentile bootstrap over pairs, 1000 resamples (sampling interval)",
        "input_range": [-1.0, 1.0],
        "resize": "none",
    }
    n = int(images.shape[0])
    return MetricResult("lpips-div", float(distances.mean()), low, high, None, n, protocol)
