"""The code blocks of README.md and docs/: where each is, its language, and whether it is marked.

A block whose fence is directly preceded by ``<!-- no-run: REASON -->`` is not executed (it needs
the network, a GPU, data the user has, or minutes of training); the tests skip it with that
reason, so ``pytest -ra`` lists every such block. Every other ``python`` and ``bash`` block runs.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FENCE = re.compile(
    r"(?:^<!-- no-run: (?P<reason>[^\n]*?) -->\n)?^(?P<indent>[ \t]*)```(?P<lang>\w*)\n"
    r"(?P<body>.*?)^(?P=indent)```[ \t]*$",
    flags=re.M | re.S,
)


@dataclass(frozen=True)
class Block:
    """One fenced code block of a Markdown file."""

    path: Path
    line: int  # of the opening fence, 1-based
    language: str
    code: str
    no_run: str | None  # the reason, when marked

    @property
    def name(self) -> str:
        return f"{self.path.relative_to(REPO).as_posix()}:{self.line}"


def markdown_files() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]


def blocks(*languages: str) -> list[Block]:
    """Every block in ``languages`` of README.md and docs/, in reading order."""
    found = []
    for path in markdown_files():
        text = path.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            if match["lang"] not in languages:
                continue
            indent = len(match["indent"])
            code = "\n".join(line[indent:] for line in match["body"].splitlines()) + "\n"
            line = text.count("\n", 0, match.start("indent")) + 1
            found.append(Block(path, line, match["lang"], code, match["reason"]))
    return found


def shell_commands(code: str) -> list[list[str]]:
    """The commands of a shell block: continuation lines joined, comments dropped, split."""
    joined = code.replace("\\\n", " ")
    commands = []
    for line in joined.splitlines():
        words = [w for w in shlex.split(line, comments=True) if w not in ("...", "…")]
        if words:  # "..." stands for the rest of the reader's command
            commands.append(words)
    return commands


def cli_arguments(words: list[str]) -> list[str] | None:
    """The ``gan-regularizers`` arguments of a command (also under torchrun), else None."""
    for at, word in enumerate(words):
        if word.endswith("gan-regularizers"):
            return words[at + 1 :]
        if word == "gan_regularizers" and at > 0 and words[at - 1] == "-m":
            return words[at + 1 :]
    return None


def check_cli_command(arguments: list[str], where: str) -> None:
    """The CLI parses ``arguments`` as shown; a ``train`` command's config resolves."""
    import pytest

    from gan_regularizers.cli import build_parser
    from gan_regularizers.commands.train import overrides_from
    from gan_regularizers.training.config import load_config

    try:
        args = build_parser().parse_args(arguments)
    except SystemExit as stop:
        if stop.code == 0:  # --help, --version
            return
        pytest.fail(f"{where}: the CLI refuses `gan-regularizers {shlex.join(arguments)}`")
    if args.command == "train" and not args.resume:
        config = REPO / args.config if args.config else None
        load_config(config, overrides_from(args))
