"""Descriptors of feature spaces: what statistics key on, and how two descriptors differ.

The cache lives in `gan_regularizers.files.cache`, the checked load in
`gan_regularizers.files.torch_files`.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import torch
from torch import nn


def module_descriptor(module: nn.Module) -> dict[str, Any]:
    """Descriptor of a feature space: its own ``descriptor``, else class and parameter hash."""
    descriptor = getattr(module, "descriptor", None)
    if isinstance(descriptor, dict):
        return json.loads(json.dumps(descriptor, default=str))
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(
            tensor.detach().cpu().reshape(-1).contiguous().view(torch.uint8).numpy().tobytes()
        )
    cls = type(module)
    return {
        "module": f"{cls.__module__}.{cls.__qualname__}",
        "state_sha256": digest.hexdigest(),
    }


def descriptor_differences(stored: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Human-readable ``key: stored → current`` lines for every key that differs."""
    lines = []
    for key in sorted(set(stored) | set(current)):
        if stored.get(key) != current.get(key):
            lines.append(f"{key}: {stored.get(key)!r} (file) vs {current.get(key)!r} (now)")
    return lines


__all__ = ["descriptor_differences", "module_descriptor"]
