"""`import gan_regularizers` and every built-in plugin module stay cheap: no backbone libraries
at import. One subprocess imports them in turn and reports the heavy libraries loaded after each."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import entry_points

HEAVY = ("torchvision", "open_clip", "timm", "lpips", "torch_fidelity", "matplotlib", "scipy")

SCRIPT = """
import importlib, json, sys
heavy, modules = json.loads(sys.argv[1]), json.loads(sys.argv[2])
report = {}
for module in modules:
    importlib.import_module(module)
    report[module] = sorted(name for name in heavy if name in sys.modules)
print(json.dumps(report))
"""


def test_package_and_builtin_plugins_import_no_backbone_library() -> None:
    plugins = sorted(
        ep.value for ep in entry_points(group="gan_regularizers") if ep.value.startswith("gan_reg")
    )
    assert len(plugins) >= 9, plugins
    modules = ["gan_regularizers", *plugins, "torchvision"]  # the last one: a positive control
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(HEAVY), json.dumps(modules)],
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(result.stdout)
    assert list(report) == modules
    # imports accumulate in one process: the first module that pulls a library in is named
    assert "torchvision" in report.pop("torchvision"), "the check detects a heavy import"
    offenders = {module: loaded for module, loaded in report.items() if loaded}
    assert not offenders, offenders
