"""The ``dino`` feature space: self-supervised DINO / DINOv2 vision transformers from timm.

``φ(x)`` is the class-token embedding of ``vit_small_patch16_224.dino`` (384-d, after the final
norm) by default, at 224×224 (bicubic resize, ImageNet mean/std, from timm's ``pretrained_cfg``).
DINOv2 names are accepted (``vit_small_patch14_dinov2.lvd142m``: 518×518 by default; pass
``input_size=224`` for speed). ``block=i`` or ``layer="blocks.i"`` takes block ``i``'s output
instead. Everything else is ``TimmFeatureSpace``.
"""

from __future__ import annotations

from gan_regularizers.plugin_system.hookspecs import Register, hookimpl
from gan_regularizers.plugins.timm_models import TimmFeatureSpace

DEFAULT_MODEL = "vit_small_patch16_224.dino"


class DinoFeatureSpace(TimmFeatureSpace):
    """Frozen DINO/DINOv2 ViT; ``model=None`` means ``vit_small_patch16_224.dino``.

    Options are those of ``TimmFeatureSpace``.
    """

    name = "dino"
    default_model = DEFAULT_MODEL


@hookimpl
def register_feature_spaces(register: Register) -> None:
    register("dino", DinoFeatureSpace)
