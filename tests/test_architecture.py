"""Layers import downward only (docs/architecture.md): checked on every module's source with ast.

Layer 0 (infrastructure) ← 1 (plugin machinery, feature spaces, data) ← 2 (the centroid, the
built-in plugins, metrics) ← 3 (training) ← 4 (commands and the CLI). A module may import its
own layer or a lower one; a built-in plugin never imports the metrics. Imports under
``if TYPE_CHECKING:`` and the package's own ``__init__`` (lazy public names) are exempt.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "gan_regularizers"
LAYERS = {
    "_version": 0,
    "errors": 0,
    "distributed": 0,
    "optional_imports": 0,
    "threads": 0,
    "files": 0,
    "checks": 0,
    "models": 0,
    "assets": 0,
    "schedules": 0,
    "control": 0,
    "plugin_system": 1,
    "features": 1,
    "data": 1,
    "centroid": 2,
    "plugins": 2,
    "metrics": 2,
    "training": 3,
    "export": 3,
    "commands": 4,
    "study": 4,
    "cli": 4,
    "__main__": 4,
}
ROOT_PACKAGE_LAYER = 1  # `from gan_regularizers import hookimpl`: errors and the plugin registry
# Never imported across, whatever the layers say: a plugin is a plugin, not a metric or a run.
FORBIDDEN = {("plugins", "metrics"), ("plugins", "training")}
# The exceptions: plugins that register metrics build on the metric base classes, as a
# feature-space plugin builds on features.base (a third party's would too): the built-in metrics,
# and the 2-D mixtures' coverage metric beside its dataset.
METRIC_PLUGINS = {"gan_regularizers.plugins.metrics", "gan_regularizers.plugins.mixtures"}
# (importer module, imported module) pairs known to break the rule, owned by work in progress on
# other branches; each must disappear, never grow. Empty: none today.
KNOWN_VIOLATIONS: set[tuple[str, str]] = set()


def _module_name(path: Path) -> str:
    relative = path.relative_to(ROOT).with_suffix("")
    parts = list(relative.parts)
    if parts[0] == "plugins":
        parts = [PACKAGE, *parts]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _sources() -> list[Path]:
    return sorted([*(ROOT / PACKAGE).rglob("*.py"), *(ROOT / "plugins").rglob("*.py")])


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported_from(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module name of ``from X import …`` in ``module`` (relative levels resolved)."""
    base = node.module or ""
    if node.level:
        anchor = module.split(".") if is_package else module.split(".")[:-1]
        anchor = anchor[: len(anchor) - (node.level - 1)]
        base = ".".join([*anchor, base] if base else anchor)
    return base


def _imports(nodes: Iterable[ast.AST], module: str, is_package: bool) -> Iterator[str]:
    """Every module name imported in ``nodes`` (lazy imports too), TYPE_CHECKING blocks aside."""
    for node in nodes:
        if isinstance(node, ast.If) and _is_type_checking(node):
            yield from _imports(node.orelse, module, is_package)
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = imported_from(node, module, is_package)
            if base == PACKAGE:  # `from gan_regularizers import x`: x may be a sub-package
                yield from (f"{PACKAGE}.{alias.name}" for alias in node.names)
            else:
                yield base
        yield from _imports(ast.iter_child_nodes(node), module, is_package)


def _layer(module: str) -> tuple[str, int] | None:
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    if len(parts) == 1 or parts[1] not in LAYERS:
        return PACKAGE, ROOT_PACKAGE_LAYER
    return parts[1], LAYERS[parts[1]]


def _violations() -> set[tuple[str, str]]:
    found = set()
    for path in _sources():
        module = _module_name(path)
        if module == PACKAGE:
            continue  # the public API's lazy imports
        source_group, source_layer = _layer(module) or (PACKAGE, ROOT_PACKAGE_LAYER)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for imported in _imports(tree.body, module, path.name == "__init__.py"):
            target = _layer(imported)
            if target is None:
                continue
            group, layer = target
            crossing = (source_group, group) in FORBIDDEN
            if crossing and module in METRIC_PLUGINS and group == "metrics":
                crossing = False
            if layer > source_layer or crossing:
                found.add((module, imported))
    return found


def test_every_top_level_name_has_a_layer() -> None:
    top = ROOT / PACKAGE
    modules = {p.stem for p in top.glob("*.py") if p.stem != "__init__"}
    packages = {p.name for p in top.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    assert (modules | packages) - set(LAYERS) == set(), "give each new one a layer in LAYERS"


def test_layers_import_downward_only() -> None:
    new = _violations() - KNOWN_VIOLATIONS
    assert new == set(), "imports from a higher layer (see docs/architecture.md): " + str(
        sorted(new)
    )


def test_known_violations_are_still_violations() -> None:
    """Remove a pair from KNOWN_VIOLATIONS once it is fixed, so that it cannot come back."""
    assert KNOWN_VIOLATIONS - _violations() == set()


@pytest.mark.parametrize(
    ("source", "module", "is_package", "expected"),
    [
        ("import gan_regularizers.training.loop", "gan_regularizers.data.x", False,
         ["gan_regularizers.training.loop"]),
        ("def f():\n    from gan_regularizers.metrics import frechet", "gan_regularizers.plugins.x",
         False, ["gan_regularizers.metrics"]),
        ("from ..training import loop", "gan_regularizers.data.x", False,
         ["gan_regularizers.training"]),
        ("from . import specs", "gan_regularizers.plugin_system", True,
         ["gan_regularizers.plugin_system"]),
        ("from gan_regularizers import commands", "gan_regularizers.data.x", False,
         ["gan_regularizers.commands"]),
        ("if TYPE_CHECKING:\n    import gan_regularizers.cli\nelse:\n    import os",
         "gan_regularizers.data.x", False, ["os"]),
    ],
)  # fmt: skip
def test_the_scan_finds_lazy_relative_and_package_imports(
    source: str, module: str, is_package: bool, expected: list[str]
) -> None:
    assert list(_imports(ast.parse(source).body, module, is_package)) == expected
