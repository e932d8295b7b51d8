"""A built wheel (a non-editable install) carries every built-in plugin: ``plugins/`` at the
repository top must install as ``gan_regularizers.plugins``, with one entry point per file."""

from __future__ import annotations

import configparser
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

CHECK = """
import importlib, json, sys
from importlib.metadata import entry_points
root = sys.argv[1]
package = importlib.import_module("gan_regularizers")
found = {}
for name, module in json.loads(sys.argv[2]).items():
    loaded = importlib.import_module(module)
    found[name] = loaded.__file__.startswith(root)
print(json.dumps({"package": package.__file__.startswith(root), "plugins": found}))
"""


def _build_wheel(out: Path) -> Path:
    """``setuptools.build_meta.build_wheel`` in a subprocess: the same backend pip uses."""
    code = (
        "import sys; from setuptools import build_meta; print(build_meta.build_wheel(sys.argv[1]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"building the wheel failed:\n{result.stderr[-3000:]}")
    return out / result.stdout.strip().splitlines()[-1]


def test_a_built_wheel_imports_every_builtin_plugin_from_itself(tmp_path: Path) -> None:
    pytest.importorskip("setuptools")
    wheel = _build_wheel(tmp_path / "dist")
    unpacked = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(unpacked)
    (info,) = unpacked.glob("gan_regularizers-*.dist-info")
    parser = configparser.ConfigParser()
    parser.read(info / "entry_points.txt")
    declared = dict(parser["gan_regularizers"])
    files = {p.stem for p in (REPO / "plugins").glob("*.py") if p.name != "__init__.py"}
    assert {module.rsplit(".", 1)[1] for module in declared.values()} == files
    assert (unpacked / "gan_regularizers" / "assets" / "mnist_evaluator.pt").is_file()
    env = {**os.environ, "PYTHONPATH": str(unpacked)}
    result = subprocess.run(
        [sys.executable, "-c", CHECK, str(unpacked), json.dumps(declared)],
        cwd=tmp_path,  # not the checkout: "" on sys.path would find its gan_regularizers
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["package"], "gan_regularizers came from the checkout, not from the wheel"
    assert report["plugins"] == dict.fromkeys(declared, True)
