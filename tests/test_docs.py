"""Meta-tests: the docs describe every hook, every plugin file has an entry point, and CI runs
exactly the README's test command."""

from __future__ import annotations

import inspect
import re
import tomllib
from pathlib import Path

from gan_regularizers.plugin_system import hookspecs

REPO = Path(__file__).resolve().parents[1]


def hook_names() -> list[str]:
    return [
        name
        for name, value in vars(hookspecs).items()
        if callable(value) and hasattr(value, "gan_regularizers_spec")
    ]


def test_every_hook_has_a_docstring_and_a_documented_heading() -> None:
    docs = (REPO / "docs" / "plugins.md").read_text()
    names = hook_names()
    assert set(names) == {
        "register_losses",
        "register_regularizers",
        "register_feature_spaces",
        "register_augmentations",
        "register_metrics",
        "register_datasets",
        "register_architectures",
    }
    for name in names:
        assert f"### {name}(register)" in docs, f"docs/plugins.md lacks a heading for {name}"
        doc = inspect.getdoc(getattr(hookspecs, name)) or ""
        assert "Called" in doc and ":param register:" in doc, name


def test_every_plugin_file_has_an_entry_point() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = set(project["entry-points"]["gan_regularizers"].values())
    modules = {
        f"gan_regularizers.plugins.{path.stem}"
        for path in (REPO / "plugins").glob("*.py")
        if path.name != "__init__.py"
    }
    assert modules == declared, (modules - declared, declared - modules)


def readme_commands() -> list[str]:
    readme = (REPO / "README.md").read_text()
    return re.findall(r"```bash\n(python3 -m pip install[^\n]*)\n```", readme)


def test_readme_has_exactly_two_setup_commands_and_ci_runs_the_test_one() -> None:
    commands = readme_commands()
    assert len(commands) == 2, commands
    main_job, tests = commands
    assert "pytest" in tests and "pytest" not in main_job
    ci_lines = (REPO / ".ci" / "run").read_text().splitlines()
    assert tests in ci_lines


def test_mkdocs_nav_lists_every_page() -> None:
    config = (REPO / "mkdocs.yml").read_text()
    pages = {p.relative_to(REPO / "docs").as_posix() for p in (REPO / "docs").glob("*.md")}
    for page in pages:
        assert page in config, f"{page} is not in mkdocs.yml's nav"


def test_readme_drop_in_snippet_runs_as_written() -> None:
    readme = (REPO / "README.md").read_text()
    snippets = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    drop_in = next(s for s in snippets if "CentroidLoss" in s)
    namespace: dict = {}
    exec(compile(drop_in, "README.md", "exec"), namespace)
    generator_grads = [p.grad for p in namespace["G"].parameters()]
    assert all(g is not None and g.abs().sum() > 0 for g in generator_grads)
    assert namespace["centroid"].fitted and int(namespace["centroid"].num_images) == 5000
