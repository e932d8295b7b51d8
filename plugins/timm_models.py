"""The ``timm`` feature space: any timm model by name, pooled features (the ``[dino]`` extra).

``φ(x) = model(normalise(resize(x)))`` with the classifier removed (``num_classes=0``): the pooled
pre-logits embedding (``forward_head(forward_features(x), pre_logits=True)``). Input size, mean,
std and interpolation come from the model's timm ``pretrained_cfg``. For vision transformers,
``block=i`` (or ``layer="blocks.i"``) takes the output of block ``i`` instead, pooled as its class
token, the mean of its patch tokens, or every token (``pooling="token" | "avg" | "none"``); the
blocks after ``i`` are dropped.

``TimmFeatureSpace`` is shared with the ``dino`` space (``.dino``).
"""

from __future__ import annotations

import contextlib
import difflib
import os
import re
import sys
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from torch import nn

from gan_regularizers.features.base import FeatureSpace
from gan_regularizers.features.preprocessing import Preprocessing
from gan_regularizers.features.weights import (
    ResolvedWeights,
    WeightsFileError,
    check_fetchable,
    file_sha256,
    hf_cache_location,
    hf_cached_file,
    load_matching,
    load_state_dict_file,
    resolve_weights,
    seeded_init,
    warn_random_weights,
)
from gan_regularizers.optional_imports import import_optional
from gan_regularizers.plugin_system.hookspecs import Register, hookimpl

EXTRA = "dino"
BLOCK_POOLINGS = ("token", "avg", "none")
STATE_DICT_SUFFIXES = (".safetensors", ".bin", ".pth", ".pt")  # read weights-only here
_BLOCK_LAYER = re.compile(r"blocks\.(-?\d+)")


def _pretrained_cfg(timm: ModuleType, model: str, space: str) -> dict[str, Any]:
    """timm's pretrained config of ``model`` (``arch`` or ``arch.tag``), checking the name."""
    if not timm.is_model(model):
        names = timm.list_models()
        close = difflib.get_close_matches(model, names, n=3, cutoff=0.6)
        hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
        raise ValueError(
            f"{space}: timm has no model {model!r}.{hint} Pass a name from timm.list_models() "
            "(e.g. 'resnet50', 'vit_small_patch16_224.dino', 'convnext_tiny.fb_in1k')."
        )
    try:
        cfg = timm.models.get_pretrained_cfg(model)
    except RuntimeError as error:  # an unknown tag
        architecture = model.split(".", 1)[0]
        tags = timm.list_pretrained(f"{architecture}.*")
        raise ValueError(
            f"{space}: {error} Pretrained names for it: {', '.join(tags) or '(none)'}."
        ) from error
    return cfg.to_dict() if cfg is not None else {}


def _hf_filenames(cfg: dict[str, Any]) -> list[str]:
    """The files timm's hub loader tries for a config, safetensors first."""
    name = cfg.get("hf_hub_filename") or "pytorch_model.bin"
    if name == "pytorch_model.bin":
        return ["model.safetensors", name]
    if name.endswith((".bin", ".pth")):
        return [name[:-4] + ".safetensors", name]
    return [name]


def _cached_pretrained(cfg: dict[str, Any]) -> tuple[Path | None, Path, str, bool]:
    """(cached file or ``None``, where timm caches it, its download url, whether from the hub)."""
    hub_id = cfg.get("hf_hub_id")
    if hub_id:
        from huggingface_hub import constants

        repo_id = hub_id.split("@", 1)[0]
        return (
            hf_cached_file(repo_id, _hf_filenames(cfg)),
            hf_cache_location(repo_id),
            f"{constants.ENDPOINT}/{repo_id}",
            True,
        )
    url = cfg.get("url") or ""
    expected = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)
    return (expected if url and expected.is_file() else None), expected, url, False


def _pretrained_file(cfg: dict[str, Any], model: str, space: str) -> tuple[Path | None, bool]:
    """The cached pretrained file (``None``: timm may download it) and whether it is a hub file.

    Raises:
        WeightsUnavailableError: not cached and cannot be downloaded now (offline, no network).
        ValueError: timm has no pretrained weights for ``model``.
    """
    cached, expected, url, from_hub = _cached_pretrained(cfg)
    if not url:
        raise ValueError(
            f"{space}: timm has no pretrained weights for {model!r}. Pass "
            "weights='path/to/file' or pretrained=False."
        )
    if cached is None:
        check_fetchable(
            url,
            backbone=f"the {space!r} feature space (timm {model})",
            expected=expected,
            extra=EXTRA,
            example=f"get_feature_space({space!r}, model={model!r}, weights='model.safetensors')",
            hub=from_hub,
        )
    return cached, from_hub


def _pretrained_weights(cfg: dict[str, Any], model: str, space: str) -> ResolvedWeights:
    """The name's pretrained weights: a cached state-dict file is read here, weights-only
    (older timm releases unpickle it with ``weights_only=False``); otherwise timm downloads and
    loads them (and loads checkpoints in its own formats, e.g. ``.npz``)."""
    cached, from_hub = _pretrained_file(cfg, model, space)
    arch, tag = cfg.get("architecture", model), cfg.get("tag")
    name = f"{arch}.{tag}" if tag else arch
    if cached is not None and cached.suffix in STATE_DICT_SUFFIXES and not cfg.get("custom_load"):
        state = load_state_dict_file(cached)
        return ResolvedWeights(name, file_sha256(cached), state, str(cached), cached)
    source = "hub" if from_hub else "url"
    return ResolvedWeights(
        name, file_sha256(cached) if cached is not None else None, None, source, cached
    )


def _create_net(
    timm: ModuleType,
    model: str,
    resolved: ResolvedWeights,
    block: int | None,
    pooling: str | None,
    input_size: int | None,
) -> nn.Module:
    """The timm model without its classifier, with its pretrained weights when they are used."""
    options: dict[str, Any] = {"num_classes": 0}
    if pooling is not None and block is None:
        options["global_pool"] = pooling
    if input_size is not None:
        options["img_size"] = input_size
    library_loads = resolved.state is None and not resolved.random
    if library_loads and resolved.file is not None:
        overlay = {"file": str(resolved.file)}
        if resolved.source == "hub":  # hub files are timm state dicts, whatever the url's format
            overlay["custom_load"] = False
        return _create(timm, model, options, pretrained=True, pretrained_cfg_overlay=overlay)
    return _create(timm, model, options, pretrained=library_loads)


def _load_file(net: nn.Module, state: dict[str, torch.Tensor], backbone: str, source: str) -> None:
    """Load ``state`` strictly; retry through the model family's ``checkpoint_filter_fn``.

    The filter converts original checkpoints (e.g. the DINO repository's files) and resamples
    position embeddings for another input size.
    """
    try:
        load_matching(net, state, backbone=backbone, source=source)
    except WeightsFileError:
        convert = getattr(sys.modules.get(type(net).__module__), "checkpoint_filter_fn", None)
        if convert is None:
            raise
        try:
            converted = convert(dict(state), net)
        except Exception:
            raise WeightsFileError(
                f"{source} does not fit {backbone}, and timm's checkpoint converter for it "
                "failed too. Pass the state dict of the same architecture."
            ) from None
        load_matching(net, converted, backbone=backbone, source=source)


class TimmFeatureSpace(FeatureSpace):
    """Frozen timm model: pooled pre-logits features, or one transformer block's tokens.

    Args:
        model: timm model name, with or without a pretrained tag (``"resnet50.a1_in1k"``).
        pretrained: weights of the name's tag through timm (Hugging Face hub cache);
            ``False`` initialises randomly (with a warning).
        weights: path of a local state dict file of the same architecture (a timm
            ``model.safetensors``, or an original checkpoint timm converts); takes precedence.
        block: index of the transformer block whose output to use (negative counts from the
            end); ``None`` uses the pooled embedding.
        layer: ``"blocks.i"`` (same as ``block=i``) or ``None``.
        pooling: with ``block``: ``"token"`` (class token; default), ``"avg"`` (mean of patch
            tokens) or ``"none"`` (all tokens, flattened); without: timm's ``global_pool``
            (``"avg"``, ``"token"``, …; default the model's own).
        input_size: side to build the model for and resize to (default: the config's); also
            spelled ``resize``.
        **preprocessing: ``Preprocessing`` options
            (``resize_mode``, ``antialias``, ``mean``, ``std``, ``input_range``, ``grayscale``,
            ``dtype``); the defaults are the model config's.
    """

    name = "timm"
    default_model: str | None = None

    def __init__(
        self,
        *,
        model: str | None = None,
        pretrained: bool = True,
        weights: str | os.PathLike[str] | None = None,
        block: int | None = None,
        layer: str | None = None,
        pooling: str | None = None,
        input_size: int | None = None,
        **preprocessing: Any,
    ) -> None:
        space = self.name
        timm = import_optional("timm", EXTRA, f"The {space!r} feature space")
        model = model or self.default_model
        if not model:
            raise ValueError(
                f"{space}: pass model='name' with any timm model, e.g. model='resnet50' or "
                "model='convnext_tiny.fb_in1k' (see timm.list_models())."
            )
        cfg = _pretrained_cfg(timm, model, space)
        block = _block_from(block, layer, space)
        input_size = preprocessing.pop("resize", input_size)  # ``resize=`` is the same option
        resolved = resolve_weights(
            space,
            weights=weights,
            pretrained=pretrained,
            fetch_pretrained=lambda: _pretrained_weights(cfg, model, space),
            warn_random=False,  # warned after the option checks: errors come without it
        )
        with seeded_init() if resolved.random else contextlib.nullcontext():
            net = _create_net(timm, model, resolved, block, pooling, input_size)  # random: seeded
        if resolved.state is not None:
            _load_file(net, resolved.state, f"timm {model}", resolved.source)
        if resolved.tag != "file" and not resolved.random and resolved.sha256 is None:
            cached = _cached_pretrained(cfg)[0]  # timm has just downloaded it
            resolved = replace(resolved, sha256=file_sha256(cached) if cached else None)
        index, pooling = _prepare_block(net, block, pooling, space)
        if resolved.random:
            warn_random_weights(space)
        data = timm.data.resolve_model_data_config(net)
        defaults = {
            "resize": input_size or tuple(data["input_size"][1:]),
            "mean": data["mean"],
            "std": data["std"],
            "resize_mode": data.get("interpolation", "bicubic"),
        }
        super().__init__(Preprocessing.build(defaults, preprocessing, space=space))
        self.net = net
        self.model_name = model
        self.block = index
        self.pooling = pooling if index is not None else _global_pool_name(net)
        self.weights_tag = resolved.tag
        self.weights_sha256 = resolved.sha256
        self.freeze()

    def embed(self, pixels: torch.Tensor) -> torch.Tensor:
        """Pooled ``B×D`` embedding, or block ``i``'s tokens pooled (``B×D`` or ``B×(N·D)``)."""
        if self.block is None:
            return self.net(pixels)
        (output,) = self.net.forward_intermediates(
            pixels,
            indices=[self.block],
            return_prefix_tokens=True,
            norm=False,
            stop_early=True,
            output_fmt="NLC",
            intermediates_only=True,
        )
        patches, prefix = output if isinstance(output, tuple) else (output, None)
        if self.pooling == "token":
            return prefix[:, 0]
        if self.pooling == "avg":
            return patches.mean(dim=1)
        return patches if prefix is None else torch.cat([prefix, patches], dim=1)

    def backbone_descriptor(self) -> dict[str, Any]:
        """Model, weights tag and sha256, layer, pooling, timm version."""
        timm = import_optional("timm", EXTRA, f"The {self.name!r} feature space")
        return {
            "feature_space": self.name,
            "backbone": self.model_name,
            "library": "timm",
            "timm": timm.__version__,
            "weights": self.weights_tag,
            "weights_sha256": self.weights_sha256,
            "layer": "pre_logits" if self.block is None else f"blocks.{self.block}",
            "pooling": self.pooling,
        }


def _create(timm: ModuleType, model: str, options: dict[str, Any], **more: Any) -> nn.Module:
    """``timm.create_model``; ``img_size`` is dropped for models that take any size (CNNs)."""
    try:
        return timm.create_model(model, **options, **more)
    except TypeError as error:
        if "img_size" not in str(error) or "img_size" not in options:
            raise
        return timm.create_model(
            model, **{k: v for k, v in options.items() if k != "img_size"}, **more
        )


def _block_from(block: int | None, layer: str | None, space: str) -> int | None:
    """The block index named by ``block=`` or ``layer="blocks.i"`` (they must agree)."""
    if layer is not None and layer not in ("pre_logits",):
        match = _BLOCK_LAYER.fullmatch(layer)
        if match is None:
            raise ValueError(
                f"{space}: layer must be 'blocks.i' (the output of transformer block i) or "
                f"'pre_logits' (the pooled embedding), got {layer!r}."
            )
        if block is not None and block != int(match.group(1)):
            raise ValueError(f"{space}: block={block} and layer={layer!r} disagree; pass one.")
        return int(match.group(1))
    if block is not None and (isinstance(block, bool) or not isinstance(block, int)):
        raise TypeError(f"{space}: block must be an integer index, got {block!r}.")
    return block


def _prepare_block(
    net: nn.Module, block: int | None, pooling: str | None, space: str
) -> tuple[int | None, str | None]:
    """Check the block index and pooling, and drop the blocks after it (and the final norm)."""
    if block is None:
        return None, pooling
    blocks = getattr(net, "blocks", None)
    if not isinstance(blocks, nn.Sequential | nn.ModuleList) or not hasattr(
        net, "forward_intermediates"
    ):
        raise ValueError(
            f"{space}: block= needs a vision transformer with .blocks (e.g. "
            f"'vit_small_patch16_224.dino'); {type(net).__name__} has none. Use the pooled "
            "features (no block=)."
        )
    count = len(blocks)
    if not -count <= block < count:
        raise ValueError(f"{space}: block must be in [-{count}, {count - 1}], got {block}.")
    index = block % count
    prefix_tokens = int(getattr(net, "num_prefix_tokens", 0))
    pooling = pooling or ("token" if prefix_tokens else "avg")
    if pooling not in BLOCK_POOLINGS or (pooling == "token" and not prefix_tokens):
        allowed = BLOCK_POOLINGS if prefix_tokens else BLOCK_POOLINGS[1:]
        raise ValueError(f"{space}: pooling with block= must be one of {allowed}, got {pooling!r}.")
    net.prune_intermediate_layers([index], prune_norm=True, prune_head=True)
    return index, pooling


def _global_pool_name(net: nn.Module) -> str:
    pool = getattr(net, "global_pool", "")
    return str(getattr(pool, "pool_type", pool))


@hookimpl
def register_feature_spaces(register: Register) -> None:
    register("timm", TimmFeatureSpace)
