"""The ``clip`` feature space: open_clip image embeddings (the ``[clip]`` extra).

``φ(x) = visual(normalise(resize(x)))``, the image tower of an open_clip model, i.e.
``model.encode_image`` (``B×embed_dim``, 512 for the default ViT-B-32), optionally L2-normalised
(``normalize=True``). Images are resized to the model's input size (224 for ViT-B-32) with bicubic
interpolation, as CLIP's own preprocessing does, and normalised with the mean/std of the
pretrained tag (OpenAI's CLIP statistics for ``openai``). Only the image tower is kept.
"""

from __future__ import annotations

import contextlib
import difflib
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
import torch.nn.functional as F

from gan_regularizers.features.base import FeatureSpace
from gan_regularizers.features.preprocessing import Preprocessing
from gan_regularizers.features.weights import (
    ResolvedWeights,
    check_fetchable,
    file_sha256,
    hf_cache_location,
    hf_cached_file,
    load_matching,
    load_state_dict_file,
    resolve_weights,
    seeded_init,
)
from gan_regularizers.optional_imports import import_optional
from gan_regularizers.plugin_system.hookspecs import Register, hookimpl

DEFAULT_MODEL = "ViT-B-32"
DEFAULT_TAG = "openai"
EXTRA = "clip"


def _open_clip() -> ModuleType:
    return import_optional("open_clip", EXTRA, "The 'clip' feature space")


@contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """open_clip logs 'initialized randomly' on the root logger before we load weights."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(previous)


def resolve_tag(open_clip: ModuleType, model: str, tag: str | None) -> str | None:
    """The pretrained tag to use: ``tag`` if given (checked), else ``openai`` or the first one."""
    if model not in open_clip.list_models():
        close = difflib.get_close_matches(model, open_clip.list_models(), n=3, cutoff=0.6)
        hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
        raise ValueError(
            f"clip: open_clip has no model {model!r}.{hint} See open_clip.list_models(); the "
            f"default is {DEFAULT_MODEL!r}."
        )
    tags = open_clip.list_pretrained_tags_by_model(model)
    if tag is None:
        return DEFAULT_TAG if DEFAULT_TAG in tags else (tags[0] if tags else None)
    if tag not in tags:
        raise ValueError(
            f"clip: open_clip has no pretrained tag {tag!r} for {model!r}; available: "
            f"{', '.join(tags) or '(none: use weights= or pretrained=False)'}."
        )
    return tag


def _cached_checkpoint(tag_cfg: dict[str, Any]) -> tuple[Path | None, Path, str]:
    """Where open_clip caches a tag's file: (the file if cached, the expected place, its url)."""
    hub = tag_cfg.get("hf_hub", "")
    if hub:
        from huggingface_hub import constants
        from open_clip.constants import HF_SAFE_WEIGHTS_NAME, HF_WEIGHTS_NAME

        repo_id, filename = os.path.split(hub)  # 'org/name/' or 'org/name/file.bin'
        filename = filename or HF_WEIGHTS_NAME
        if filename == HF_WEIGHTS_NAME:
            names = [HF_SAFE_WEIGHTS_NAME, filename]
        elif filename.endswith((".bin", ".pth")):
            names = [filename[:-4] + ".safetensors", filename]
        else:
            names = [filename]
        return (
            hf_cached_file(repo_id, names),
            hf_cache_location(repo_id),
            f"{constants.ENDPOINT}/{repo_id}",
        )
    url = tag_cfg.get("url", "")
    expected = Path("~/.cache/clip").expanduser() / os.path.basename(url)
    return (expected if expected.is_file() else None), expected, url


def _pretrained_checkpoint(open_clip: ModuleType, model: str, tag: str) -> Path:
    """The tag's checkpoint from open_clip's cache, downloaded by open_clip when needed."""
    tag_cfg = open_clip.get_pretrained_cfg(model, tag)
    cached, expected, url = _cached_checkpoint(tag_cfg)
    if cached is None and tag_cfg.get("url"):  # OpenAI's own file, from an earlier download
        legacy = Path("~/.cache/clip").expanduser() / os.path.basename(tag_cfg["url"])
        cached = legacy if legacy.is_file() else None
    if cached is not None:
        return cached
    check_fetchable(
        url,
        backbone=f"the 'clip' feature space (open_clip {model}, pretrained tag {tag!r})",
        expected=expected,
        extra=EXTRA,
        example=f"get_feature_space('clip', model={model!r}, weights='open_clip_model.bin')",
        hub=bool(tag_cfg.get("hf_hub")),
    )
    return Path(open_clip.download_pretrained(tag_cfg))


def _pretrained_weights(open_clip: ModuleType, model: str, tag: str) -> ResolvedWeights:
    """The tag's checkpoint, read with ``weights_only=True``."""
    checkpoint = _pretrained_checkpoint(open_clip, model, tag)
    state = load_state_dict_file(checkpoint)
    return ResolvedWeights(tag, file_sha256(checkpoint), state, str(checkpoint), checkpoint)


def _image_tower(open_clip: ModuleType, model: str, tag_cfg: dict[str, Any]) -> torch.nn.Module:
    """open_clip's image tower of ``model`` with the tag's activation and preprocessing."""
    preprocess = {k: tag_cfg[k] for k in ("mean", "std", "interpolation") if k in tag_cfg}
    with _quiet_root_logger():
        clip = open_clip.create_model(
            model,
            pretrained=None,
            force_quick_gelu=bool(tag_cfg.get("quick_gelu", False)),
            force_preprocess_cfg=preprocess,
        )
    return clip.visual  # the text tower is dropped


def _visual_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The image tower's entries of a full CLIP state dict (``visual.*``), or ``state`` itself."""
    if any(key.startswith("visual.") for key in state):
        return {k.removeprefix("visual."): v for k, v in state.items() if k.startswith("visual.")}
    return state


class CLIPFeatureSpace(FeatureSpace):
    """Frozen open_clip image embeddings.

    Args:
        model: open_clip model name (``"ViT-B-32"``, ``"ViT-L-14"``, ``"RN50"``, …).
        tag: pretrained tag (``"openai"``, ``"laion2b_s34b_b79k"``, …); ``None`` picks
            ``openai`` when the model has it, else its first tag. It also sets the activation
            (QuickGELU for OpenAI weights) and the normalisation.
        pretrained: download/cache the tag's weights through open_clip; ``False`` initialises
            randomly (with a warning).
        weights: path of a local checkpoint (a full open_clip state dict, its image tower alone,
            or OpenAI's TorchScript file); takes precedence over ``pretrained``.
        normalize: L2-normalise the embeddings (``encode_image(x, normalize=True)``).
        **preprocessing: ``Preprocessing`` options
            (``resize_mode``, ``antialias``, ``input_range``, ``grayscale``, ``dtype``, …);
            the defaults are the tag's (its input size, mean/std and bicubic interpolation).
    """

    name = "clip"

    def __init__(
        self,
        *,
        model: str = DEFAULT_MODEL,
        tag: str | None = None,
        pretrained: bool = True,
        weights: str | os.PathLike[str] | None = None,
        normalize: bool = False,
        **preprocessing: Any,
    ) -> None:
        open_clip = _open_clip()
        tag = resolve_tag(open_clip, model, tag)
        if weights is None and pretrained and tag is None:
            raise ValueError(
                f"clip: open_clip has no pretrained weights for {model!r}. Pass "
                "weights='path/to/checkpoint' or pretrained=False."
            )
        tag_cfg = open_clip.get_pretrained_cfg(model, tag) if tag else {}
        resolved = resolve_weights(  # before building: offline errors come fast
            self.name,
            weights=weights,
            pretrained=pretrained,
            fetch_pretrained=lambda: _pretrained_weights(open_clip, model, str(tag)),
        )
        with seeded_init() if resolved.random else contextlib.nullcontext():
            visual = _image_tower(open_clip, model, tag_cfg)  # random: seeded, the same each time
        config = dict(visual.preprocess_cfg)
        size = config["size"]
        defaults = {
            "resize": size if isinstance(size, int) else tuple(size),
            "mean": config["mean"],
            "std": config["std"],
            "resize_mode": config.get("interpolation", "bicubic"),
        }
        super().__init__(Preprocessing.build(defaults, preprocessing, space=self.name))
        self.model_name = model
        self.tag = tag
        self.quick_gelu = bool(tag_cfg.get("quick_gelu", False))
        self.normalize = bool(normalize)
        self.visual = visual
        if resolved.state is not None:
            load_matching(
                self.visual,
                _visual_state(resolved.state),
                backbone=f"the image tower of open_clip {model}",
                source=resolved.source,
            )
        self.weights_tag, self.weights_sha256 = resolved.tag, resolved.sha256
        self.freeze()

    def embed(self, pixels: torch.Tensor) -> torch.Tensor:
        """``B×3×S×S`` normalised pixels → ``B×embed_dim`` image embeddings."""
        features = self.visual(pixels)
        return F.normalize(features.float(), dim=-1) if self.normalize else features

    def backbone_descriptor(self) -> dict[str, Any]:
        """Model, tag, weights sha256, activation, normalisation flag, open_clip version."""
        return {
            "feature_space": self.name,
            "backbone": self.model_name,
            "library": "open_clip",
            "open_clip": _open_clip().__version__,
            "weights": self.weights_tag,
            "pretrained_tag": self.tag,
            "weights_sha256": self.weights_sha256,
            "quick_gelu": self.quick_gelu,
            "layer": "image_embedding",
            "pooling": "model",
            "l2_normalize": self.normalize,
        }


@hookimpl
def register_feature_spaces(register: Register) -> None:
    register("clip", CLIPFeatureSpace)
