"""Meta-tests: the docs describe every hook, every plugin file has an entry point, and CI runs
exactly the README's test command."""

from __future__ import annotations

import inspect
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from doc_blocks import REPO, Block, blocks, check_cli_command, cli_arguments, shell_commands

from gan_regularizers.plugin_system import hookspecs


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


# -- every snippet and command of README.md and docs/ runs ---------------------------------------
# A block marked `<!-- no-run: REASON -->` is skipped with that reason (`pytest -ra` lists them);
# a gan-regularizers command in it is still parsed by the CLI (and a `train` config resolved), so
# a renamed or deleted flag fails here. Everything else runs as shown.

PYTHON_BLOCKS = blocks("python")
SHELL_BLOCKS = blocks("bash")
SLOW_CALLS = re.compile(r"\btrain\(|\.fit\(|\bevaluate\(")


def stand_ins() -> dict[str, object]:
    """Small stand-ins for what a snippet leaves to the reader (their images, their networks)."""
    import torch

    from gan_regularizers import get_loss
    from gan_regularizers.models.dcgan import DCGANDiscriminator, DCGANGenerator

    torch.manual_seed(0)
    discriminator = DCGANDiscriminator(image_size=32, channels=3, base_width=8)
    real = torch.rand(4, 3, 32, 32) * 2 - 1
    fake = (torch.rand(4, 3, 32, 32) * 2 - 1).requires_grad_()
    features = torch.randn(2, 1000, 8, dtype=torch.float64)
    return {
        "real_images": torch.rand(16, 3, 32, 32) * 2 - 1,
        "fake_images": fake,
        "real": real,
        "fake": fake,
        "discriminator": discriminator,
        "real_logits": discriminator(real).detach(),
        "fake_logits": discriminator(fake),
        "adversarial_g_loss": torch.zeros(()),
        "real_features": features[0],
        "fake_features": features[1] + 0.1,
        "generator": DCGANGenerator(image_size=32, channels=1, z_dim=100, base_width=8),
        "MyLoss": type(get_loss("bce")),
        "build_my_network": lambda: torch.nn.Flatten(),
    }


def block_param(block: Block, slow: bool) -> object:
    marks = [pytest.mark.slow] if slow else []
    return pytest.param(block, id=block.name, marks=marks)


@pytest.mark.parametrize(
    "block", [block_param(b, bool(SLOW_CALLS.search(b.code))) for b in PYTHON_BLOCKS]
)
def test_every_python_snippet_runs(
    block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    if block.no_run:
        pytest.skip(f"no-run: {block.no_run}")
    if "gan-regularizers-tv" in block.path.parts:  # the example plugin's own README
        request.getfixturevalue("example_plugin")
    for top in REPO.iterdir():  # the repository's files, read-only by intent, at their paths
        if top.name not in {".venv", ".git", "runs"}:
            (tmp_path / top.name).symlink_to(top)
    monkeypatch.chdir(tmp_path)  # a snippet's run folder lands here, not in the checkout
    monkeypatch.setenv("GAN_REGULARIZERS_CACHE", str(tmp_path / "cache"))
    namespace = {"__name__": "snippet", **stand_ins()}
    exec(compile(block.code, block.name, "exec"), namespace)
    for marker, check in OUTCOMES.items():
        if marker in block.code:
            check(namespace)


def drop_in_trained_g(namespace: dict) -> None:
    """README's drop-in: the centroid is fitted on all 5,000 digits and G receives gradients."""
    generator_grads = [p.grad for p in namespace["G"].parameters()]
    assert all(g is not None and g.abs().sum() > 0 for g in generator_grads)
    assert namespace["centroid"].fitted and int(namespace["centroid"].num_images) == 5000


def scored_with_intervals(namespace: dict) -> None:
    """README's scoring: every requested metric is computed, with its interval when it has one."""
    result = namespace["result"]
    names = " ".join(result.metrics)  # e.g. fd:mnist-evaluator precision recall modes modes-kl
    for spec in namespace["specs"]:  # "precision-recall:…" gives precision and recall
        head = spec.split(":")[0] if spec.startswith("fd") else spec.split(":")[0].split("-")[0]
        assert head in names, (spec, names)
    for value in result.metrics.values():
        assert value.value == value.value  # not NaN
        if value.low is not None:
            assert value.low <= value.high


# A snippet holding the key's text is also checked for what it promises.
OUTCOMES = {
    "centroid(fake)\ng_loss.backward()": drop_in_trained_g,
    'result = metrics.evaluate(generator, "mnist5k", specs': scored_with_intervals,
}


def test_the_no_run_blocks_say_why() -> None:
    marked = [b for b in PYTHON_BLOCKS + SHELL_BLOCKS if b.no_run is not None]
    assert marked, "the docs show commands that need the network; they must be marked"
    for block in marked:
        assert len(block.no_run.split()) >= 2, f"{block.name}: say why it cannot run here"


@pytest.mark.parametrize("block", [pytest.param(b, id=b.name) for b in SHELL_BLOCKS])
def test_every_documented_command_parses(block: Block, capsys: pytest.CaptureFixture) -> None:
    for words in shell_commands(block.code):
        arguments = cli_arguments(words)
        if arguments is not None:
            check_cli_command(arguments, block.name)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder set up as docs/installation.md says: a fresh `.venv` with the package installed
    from the clone (offline, from uv's cache: tests never download), beside copies of `configs/`
    and `docs/examples/`."""
    uv = shutil.which("uv")
    if uv is None:
        if os.environ.get("CI"):
            pytest.fail("CI installs uv (.ci/run), but it is not on PATH")
        pytest.skip("uv is not installed (python3 -m pip install uv)")
    root = tmp_path_factory.mktemp("sandbox")
    shutil.copytree(REPO / "configs", root / "configs")
    shutil.copytree(REPO / "docs" / "examples", root / "docs" / "examples",
                    ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))  # fmt: skip
    for command in (
        [uv, "venv", "-q", ".venv", "--python", sys.executable],
        [uv, "pip", "install", "-q", "--offline", "--python", ".venv", "-e", f"{REPO}[demo]"],
    ):
        done = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr[-3000:]
    return root


@pytest.mark.slow
@pytest.mark.parametrize("block", [pytest.param(b, id=b.name) for b in SHELL_BLOCKS])
def test_every_documented_command_runs_as_shown(block: Block, sandbox: Path) -> None:
    if block.no_run:
        pytest.skip(f"no-run: {block.no_run}")
    if EXAMPLE_INSTALL in block.code:
        pytest.skip("run, and its outcome checked, by test_the_example_plugin_installs_…")
    run_as_shown(block, sandbox)


EXAMPLE_INSTALL = "-e docs/examples/gan-regularizers-tv"


def run_as_shown(block: Block, sandbox: Path) -> None:
    """``bash -euo pipefail`` on the block, in the sandbox, its `.venv/bin` first on PATH."""
    uv_folder = str(Path(shutil.which("uv") or "uv").parent)
    env = {
        **os.environ,
        "PATH": os.pathsep.join([str(sandbox / ".venv" / "bin"), uv_folder, os.environ["PATH"]]),
        "GAN_REGULARIZERS_CACHE": str(sandbox / "cache"),
        "UV_OFFLINE": "1",  # tests never download
        "VIRTUAL_ENV": str(sandbox / ".venv"),
    }
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", block.code], cwd=sandbox, env=env,
                          capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, f"{block.name} failed:\n{block.code}\n{done.stderr[-3000:]}"


@pytest.mark.slow
def test_the_example_plugin_installs_next_to_the_clone(sandbox: Path) -> None:
    """Its dependency `gan-regularizers` resolves to the package installed from the clone."""
    block = next(b for b in SHELL_BLOCKS if EXAMPLE_INSTALL in b.code and b.no_run is None)
    run_as_shown(block, sandbox)
    listed = subprocess.run([str(sandbox / ".venv" / "bin" / "gan-regularizers"), "plugins"],
                            capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert re.search(r"^tv\s+gan-regularizers-tv 0\.1\.0", listed, flags=re.M), listed
    assert "total-variation" in listed and "random-flip" in listed


# -- the docs' tables of keys and options are the code's -----------------------------------------


def markdown_table(text: str, heading: str) -> list[list[str]]:
    """The rows (cells stripped) of the first table under the ``heading`` line of ``text``."""
    after = text[text.index(heading) :].split("\n## ", 1)[0]
    rows = [line for line in after.splitlines() if line.startswith("|")]
    cells = [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]
    return [row for row in cells[1:] if not set(row[0]) <= {"-"}]


def documented_default(cell: str) -> object:
    """`"mnist5k"` → 'mnist5k', `[]` → [], `true` → True, `2e-4` → 0.0002, `auto` → 'auto'."""
    text = cell.strip("`")
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text


def test_the_training_config_table_is_train_config() -> None:
    from dataclasses import MISSING, fields

    from gan_regularizers.training.config import TrainConfig

    defaults = {
        item.name: item.default if item.default is not MISSING else item.default_factory()
        for item in fields(TrainConfig)
    }
    documented: dict[str, object] = {}
    text = (REPO / "docs" / "training.md").read_text()
    for key_cell, default_cell, *_ in markdown_table(text, "## Config keys"):
        keys = re.findall(r"`(\w+)`", key_cell)
        values = re.findall(r"`[^`]+`", default_cell)
        values = values * len(keys) if len(values) == 1 else values
        assert len(values) == len(keys), (key_cell, default_cell)
        documented.update(zip(keys, (documented_default(v) for v in values), strict=True))
    assert list(documented) == list(defaults), "docs/training.md's table: keys or their order"
    assert documented == defaults


def cli_sections() -> dict[str, list[list[str]]]:
    """docs/cli.md's option tables, by sub-command (those whose first column is `option`)."""
    text = (REPO / "docs" / "cli.md").read_text()
    tables = {}
    for name in re.findall(r"^## `([\w-]+)`", text, flags=re.M):
        section = text[text.index(f"## `{name}`") :].split("\n## ", 1)[0]
        if re.search(r"^\| option \|", section, flags=re.M):
            tables[name] = markdown_table(section, f"## `{name}`")
    return tables


def parser_options(command: str) -> dict[str, object]:
    """The sub-command's option strings and their defaults (global options left out)."""
    from gan_regularizers.cli import build_parser

    sub = build_parser()._subparsers._group_actions[0].choices[command]  # argparse's own table
    options = {}
    for action in sub._actions:
        for flag in action.option_strings:
            if flag not in ("-h", "--help", "--debug"):
                options[flag] = action.default
    return options


@pytest.mark.parametrize("command", ["demo", "train", "fit", "eval"])
def test_cli_md_lists_each_commands_options_with_their_defaults(command: str) -> None:
    table = cli_sections()[command]
    options = parser_options(command)
    documented: dict[str, str | None] = {}
    for row in table:
        flags = re.findall(r"--[\w-]+", row[0])
        assert flags, row
        for flag in flags:
            documented[flag] = row[1] if len(row) > 2 else None
    text = (REPO / "docs" / "cli.md").read_text()
    shared = {
        f
        for row in markdown_table(text, "| option | meaning |")
        for f in re.findall(r"--[\w-]+", row[0])
    }
    required = set(options) - shared  # the global options' table covers every command
    assert required <= set(documented) <= set(options), (
        f"docs/cli.md `{command}`: missing {sorted(required - set(documented))}, "
        f"not in the parser {sorted(set(documented) - set(options))}"
    )
    for flag, shown in documented.items():
        default = options[flag]
        if default is None or shown is None or not re.fullmatch(r"`[^`]+`|[\d.e+-]+", shown):
            continue  # resolved later (None); prose: "all", "(required)", "" (a switch)
        value = documented_default(shown)
        assert value == default or str(value) == str(default), (
            f"docs/cli.md `{command}` {flag}: shows {shown}, the parser's default is {default!r}"
        )


def settings_classes() -> dict[str, type]:
    """Each command's settings dataclass, whose defaults its flags show."""
    from gan_regularizers.commands.demo import DemoSettings
    from gan_regularizers.commands.eval import EvaluationSettings

    return {"demo": DemoSettings, "eval": EvaluationSettings, "compare": EvaluationSettings}


@pytest.mark.parametrize("command", ["demo", "eval", "compare"])
def test_each_commands_flags_show_its_settings_defaults(command: str) -> None:
    """A flag named after a settings field (`--batch-size`: `batch_size`) has its default."""
    from dataclasses import fields

    options = parser_options(command)
    settings = {item.name: item.default for item in fields(settings_classes()[command])}
    shared = [flag for flag in options if flag[2:].replace("-", "_") in settings]
    assert len(shared) >= 3, (command, sorted(options))
    for flag in shared:
        default = options[flag]
        if default is not None:  # None: resolved from the settings later
            assert default == settings[flag[2:].replace("-", "_")], f"{command} {flag}"


def test_each_train_flag_is_named_after_its_config_key() -> None:
    """One name per concept: `--batch-size` sets `batch_size`; each key has at most one flag."""
    from gan_regularizers.cli import build_parser
    from gan_regularizers.training.config import config_keys

    sub = build_parser()._subparsers._group_actions[0].choices["train"]
    keys = set(config_keys())
    # the two flags whose name is not the key's, and why
    renamed = {"--out": "run_dir", "--regularizer": "regularizers"}  # a folder; one per flag
    for action in sub._actions:
        if action.dest not in keys:
            continue
        assert len(action.option_strings) == 1, f"{action.option_strings}: one name per key"
        (flag,) = action.option_strings
        assert renamed.get(flag, flag[2:].replace("-", "_")) == action.dest, flag


def test_the_architecture_page_gives_each_package_its_tested_layer() -> None:
    """docs/architecture.md's layer table is tests/test_architecture.py's LAYERS."""
    from test_architecture import LAYERS

    text = (REPO / "docs" / "architecture.md").read_text()
    documented = {}
    for layer_cell, packages_cell, *_ in markdown_table(text, "| layer | packages | job |"):
        layer = int(layer_cell.split()[0])
        for name in re.findall(r"`([\w.]+)/?`", packages_cell):
            documented[name.removesuffix(".py")] = layer
    private = {"_version", "__main__"}
    assert documented == {k: v for k, v in LAYERS.items() if k not in private}
