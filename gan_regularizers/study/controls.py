"""The random-feature-space control: the same regularizer in a randomly initialised copy of its
feature space.

A regularizer that pulls samples toward statistics in a pretrained feature space may help for a
reason that has nothing to do with the pretrained features (a pull toward the centre of the data
that any fixed network provides). The control keeps everything (loss, λ, options) and swaps the
space's weights for a seeded random initialisation (``pretrained=false``): if the control does as
well, the pretrained features are not what helps. With the scale-free centroid
(``normalize=d_ref``) the penalty is measured in units of each space's own reference distance,
so the random space's very different feature scale does not change λ's meaning.
"""

from __future__ import annotations

from typing import Any

from gan_regularizers.plugin_system.specs import format_spec, parse_spec


def randomised_spec(spec: str) -> str | None:
    """``spec`` with ``pretrained=false`` when it names a ``feature_space``, else ``None``."""
    name, options = parse_spec(spec)
    if "feature_space" not in options:
        return None
    return format_spec(name, {**options, "pretrained": False})


def matched_scale(spec: str) -> bool:
    """Whether the regularizer's scale is the same in any space (``normalize=d_ref``)."""
    return parse_spec(spec)[1].get("normalize") == "d_ref"


def random_control(config: dict[str, Any]) -> dict[str, Any] | None:
    """``config`` with every feature-space regularizer randomised (``None``: it has none)."""
    specs = [s for s in config.get("regularizers", []) if isinstance(s, str)]
    randomised = [randomised_spec(s) for s in specs]
    if all(r is None for r in randomised):
        return None
    regularizers = [r or s for r, s in zip(randomised, specs, strict=True)]
    return {**config, "regularizers": regularizers}
