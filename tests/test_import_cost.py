"""`import gan_regularizers` and every plugin module stay cheap: no backbone libraries at import."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

import pytest

HEAVY = ("torchvision", "open_clip", "timm", "lpips", "torch_fidelity", "matplotlib", "scipy")


def imported_modules(statement: str) -> set[str]:
    """Top-level modules that ``python -X importtime -c statement`` imported."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement],
        capture_output=True,
        text=True,
        check=True,
    )
    names = set()
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            module = line.rsplit("|", 1)[1].strip()
            names.add(module.split(".")[0])
    return names


def test_import_gan_regularizers_imports_no_backbone_library() -> None:
    modules = imported_modules("import gan_regularizers")
    assert "gan_regularizers" in modules
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))


@pytest.mark.parametrize(
    "entry_point",
    [ep.value for ep in entry_points(group="gan_regularizers") if ep.value.startswith("gan_reg")],
)
def test_every_builtin_plugin_module_imports_cheaply(entry_point: str) -> None:
    modules = imported_modules(f"import {entry_point}")
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))
