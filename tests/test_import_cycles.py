"""No import circles inside ``gan_regularizers``: the module graph (every import, lazy ones inside
functions too; ``if TYPE_CHECKING:`` blocks and the package's own lazy ``__init__`` aside) has no
cycle. A cycle is a strongly connected component of more than one module (Tarjan's algorithm)."""

from __future__ import annotations

import ast

from test_architecture import PACKAGE, _is_type_checking, _module_name, _sources, imported_from


def _imported(nodes: list[ast.AST], module: str, is_package: bool, known: set[str]) -> set[str]:
    """The package's modules imported in ``nodes``: ``from a.b import c`` names ``a.b.c`` when
    that is a module, else ``a.b`` (lazy imports too, TYPE_CHECKING blocks aside)."""
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.If) and _is_type_checking(node):
            found |= _imported(node.orelse, module, is_package, known)
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = imported_from(node, module, is_package)
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
        found |= _imported(list(ast.iter_child_nodes(node)), module, is_package, known)
    return found & known


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(path): path for path in _sources()}
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        if module == PACKAGE:
            continue  # the public API's lazy imports
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = _imported(tree.body, module, path.name == "__init__.py", set(modules))
        graph[module] = imported - {PACKAGE, module}
    return graph


def _cycles(graph: dict[str, set[str]]) -> set[tuple[str, ...]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: set[tuple[str, ...]] = set()
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.add(tuple(sorted(component)))
    return found


def test_the_cycle_finder_finds_a_planted_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert _cycles(graph) == {("a", "b", "c")}


def test_the_package_has_no_import_cycles() -> None:
    cycles = _cycles(_graph())
    assert cycles == set(), f"import cycles: {sorted(cycles)}"
