"""docs/reliability.md's table of new cases stays in step with the tests that hold them."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "reliability.md"
REFERENCE = re.compile(r"`(test_[a-z0-9_]+\.py)::(test_[a-z0-9_]+)`")


def _section(title: str) -> str:
    text = PAGE.read_text(encoding="utf-8")
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else None]


def _test_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}


def test_every_test_the_table_names_exists() -> None:
    rows = [line for line in _section("New surfaces").splitlines() if line.startswith("| ")]
    assert len(rows) >= 20  # the header and the cases
    references = REFERENCE.findall(_section("New surfaces"))
    assert len(references) >= 20
    missing = [
        f"{file}::{name}"
        for file, name in references
        if not (ROOT / "tests" / file).is_file() or name not in _test_names(ROOT / "tests" / file)
    ]
    assert missing == []


def test_every_reliability_test_file_is_in_the_table() -> None:
    named = {file for file, _ in REFERENCE.findall(_section("New surfaces"))}
    files = {p.name for p in (ROOT / "tests").glob("test_reliability_*.py")}
    assert files - {Path(__file__).name} <= named
