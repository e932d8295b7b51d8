"""Shared fixtures: fake distributions on sys.path, runtime plugins, and a fresh plugin manager
for every test."""

from __future__ import annotations

import shutil
import sys
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gan_regularizers.plugin_system.manager import get_plugin_manager, reset_plugin_manager

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_PLUGIN = REPO / "docs" / "examples" / "gan-regularizers-tv"


@pytest.fixture(autouse=True)
def fresh_plugin_manager() -> Iterator[None]:
    """Every test sees the plugins installed at that moment, and leaves nothing behind."""
    reset_plugin_manager()
    yield
    reset_plugin_manager()


@pytest.fixture
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Statistics caches (``GAN_REGULARIZERS_CACHE``) in the test's own folder, returned; a test
    module that wants it everywhere says ``pytestmark = pytest.mark.usefixtures("isolated_cache")``
    (the one copy of this fixture)."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("GAN_REGULARIZERS_CACHE", str(cache))
    return cache


@pytest.fixture
def register_plugin() -> Iterator[Callable[[object, str], None]]:
    """``register_plugin(plugin_object, name)``: a plugin registered at run time for one test,
    unregistered in ``finally`` (the one copy of this fixture: use it, do not write another)."""
    registered: list[tuple[object, str]] = []

    def register(plugin: object, name: str) -> None:
        manager = get_plugin_manager()
        manager.register(plugin, name=name)
        registered.append((manager, name))

    try:
        yield register
    finally:
        for manager, name in reversed(registered):
            if manager.has_plugin(name):
                manager.unregister(name=name)


def write_distribution(
    root: Path, name: str, version: str, entry_points: dict[str, str], modules: dict[str, str]
) -> Path:
    """Write an installed distribution (``.dist-info`` + modules) into ``root``, as pip would."""
    root.mkdir(parents=True, exist_ok=True)
    info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = ["[gan_regularizers]", *(f"{k} = {v}" for k, v in entry_points.items())]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    for module, source in modules.items():
        (root / f"{module}.py").write_text(source)
    return root


@pytest.fixture
def install_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """Install a fake distribution for the duration of one test."""

    def install(
        name: str, entry_points: dict[str, str], modules: dict[str, str], version: str = "1.0"
    ) -> Path:
        root = write_distribution(tmp_path / name, name, version, entry_points, modules)
        monkeypatch.syspath_prepend(str(root))
        for module in modules:
            sys.modules.pop(module, None)
        reset_plugin_manager()
        return root

    return install


def install_example_plugin(root: Path) -> Path:
    """Install docs/examples/gan-regularizers-tv into ``root`` from its own pyproject.toml."""
    project = tomllib.loads((EXAMPLE_PLUGIN / "pyproject.toml").read_text())["project"]
    write_distribution(
        root,
        project["name"],
        project["version"],
        project["entry-points"]["gan_regularizers"],
        modules={},
    )
    shutil.copytree(EXAMPLE_PLUGIN / "gan_regularizers_tv", root / "gan_regularizers_tv")
    return root


@pytest.fixture
def example_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example plugin package, installed as a real distribution on sys.path."""
    root = install_example_plugin(tmp_path / "site")
    monkeypatch.syspath_prepend(str(root))
    sys.modules.pop("gan_regularizers_tv", None)
    reset_plugin_manager()
    return root
