"""The ``gan-regularizers`` command line: one sub-command per job.

Error contract: an error a user can cause (every ``GanRegularizersError``, a missing or
unreadable file, a bad value) is printed as one line
``gan-regularizers <command>: error: <message>`` on stderr and exits with status 1; a bad
argument exits with status 2, also in one line. Anything else is a bug: one line that says so,
status 1. ``--debug`` re-raises instead, with the traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn

from gan_regularizers import __version__
from gan_regularizers.errors import GanRegularizersError
from gan_regularizers.plugin_system.registry import list_plugins
from gan_regularizers.threads import torch_threads

# Sub-commands in gan_regularizers/commands/<name>.py: add_arguments(parser) and run(args) -> int.
# Their modules import torch and friends only inside run(), so `--help` stays fast.
SUB_COMMANDS = {
    "train": "train a DCGAN with any loss and regularizers (TOML config + overrides)",
    "fit": "fit the centroid's reference statistics for a dataset and feature space; save them",
    "demo": "DCGAN-32 on mnist5k: BCE vs BCE + centroid, one report (CPU, a few minutes)",
    "eval": "metrics of a run's generator (fid, fd:<space>, lpips-div, modes) to metrics.json",
    "compare": "every metric of several runs side by side: markdown, CSV and a bar chart",
    "study": "setups × seeds × lengths: paired, Holm-corrected verdicts with controls",
}
# Builtin errors a user causes (a wrong path, a file without permission, a bad value): printed
# as one line like our own errors; a ValueError or TypeError may also be a bug, so its line ends
# with how to see the traceback.
USER_ERRORS = (OSError, KeyError, ValueError, TypeError)
DEBUG_HINT = "run with --debug for the traceback"
OS_ERROR_ADVICE = {
    errno.ENOSPC: "Free some space on that disk, or choose a folder on another one.",
    errno.EDQUOT: "Free some space (your disk quota is used up), or choose another folder.",
    errno.EACCES: "Check its permissions, or choose a path you can write to.",
    errno.EPERM: "Check its permissions, or choose a path you can write to.",
    errno.EROFS: "The file system is read-only: choose a folder on a writable one.",
    errno.ENOENT: "Check the path.",
}


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line that points at ``--help``."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}. See '{self.prog} --help'.\n")


def _run_plugins(args: argparse.Namespace) -> int:
    plugins = list_plugins()
    if args.json:
        import json

        rows = [
            {
                "name": p.name,
                "distribution": p.distribution,
                "version": p.version,
                "registers": p.registers,
                "status": p.status,
                "error": p.error,
            }
            for p in plugins
        ]
        print(json.dumps(rows, indent=2))
        return 0
    if not plugins:
        print("No plugins are loaded.")
        return 0
    header = ("plugin", "distribution", "registers")
    rows_text = []
    for p in plugins:
        distribution = f"{p.distribution} {p.version}" if p.distribution else "(run time)"
        registers = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in p.registers.items())
        if p.status != "ok":
            registers = f"BROKEN: {p.error}" + (
                f" (still registers {registers})" if registers else ""
            )
        rows_text.append((p.name, distribution, registers or "(nothing)"))
    widths = [max(len(row[i]) for row in [header, *rows_text]) for i in range(2)]
    for row in [header, *rows_text]:
        print(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]}")
    return 0


def _add_global_options(parser: argparse.ArgumentParser, top: bool) -> None:
    """``--debug`` and ``--threads``, accepted before and after the sub-command's name."""
    default: Any = None if top else argparse.SUPPRESS  # a sub-command must not reset the top
    parser.add_argument(
        "--debug",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="show the traceback of an error instead of a one-line message",
    )
    with contextlib.suppress(argparse.ArgumentError):  # `demo` has its own --threads (default 1)
        parser.add_argument(
            "--threads",
            type=int,
            default=default,
            metavar="N",
            help="CPU threads for torch (default: torch's; 1 is often fastest on shared cores)",
        )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command."""
    parser = _Parser(
        prog="gan-regularizers",
        description="GAN losses and generator regularizers on a plugin system.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _add_global_options(parser, top=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    plugins = commands.add_parser(
        "plugins", help="list plugins, their distributions and the names they register"
    )
    plugins.add_argument("--json", action="store_true", help="print JSON instead of a table")
    plugins.set_defaults(handler=_run_plugins)
    _add_global_options(plugins, top=False)

    for name, summary in SUB_COMMANDS.items():
        module = importlib.import_module(f"gan_regularizers.commands.{name}")
        sub = commands.add_parser(name, help=summary, description=summary)
        module.add_arguments(sub)
        _add_global_options(sub, top=False)
        sub.set_defaults(handler=module.run)
    return parser


def error_line(command: str, error: BaseException) -> str:
    """The one line the CLI prints for ``error``: what went wrong, and what to do next."""
    prefix = f"gan-regularizers {command}: error:"
    if isinstance(error, GanRegularizersError):
        return f"{prefix} {_one_line(str(error))}"
    if isinstance(error, OSError) and error.strerror:
        where = f": {error.filename}" if error.filename else ""
        advice = OS_ERROR_ADVICE.get(error.errno or 0, "Check the path and its permissions.")
        return f"{prefix} {error.strerror}{where}. {advice}"
    if isinstance(error, KeyError):
        return f"{prefix} unknown name {_one_line(str(error))}. Check the spelling."
    if isinstance(error, USER_ERRORS):  # most likely a bad value; perhaps a bug: say how to see
        return f"{prefix} {_one_line(str(error)) or type(error).__name__} ({DEBUG_HINT})"
    message = _one_line(f"{type(error).__name__}: {error}")
    return f"{prefix} unexpected internal error ({message}); {DEBUG_HINT} and report it."


def _one_line(text: str) -> str:
    return " ".join(text.split())


@contextmanager
def _one_line_warnings(command: str) -> Iterator[None]:
    """Format each warning shown as ``gan-regularizers <command>: warning: <message>``.

    Deprecation warnings of our own (an old flag spelling) are shown: a CLI user is their
    audience. Only the format changes, so recorders such as ``pytest.warns`` still see them.
    """

    def one_line(message: Warning | str, *_: Any, **__: Any) -> str:
        return f"gan-regularizers {command}: warning: {_one_line(str(message))}\n"

    previous = warnings.formatwarning
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "default", category=DeprecationWarning, module=r"gan_regularizers(\.|$)"
        )
        warnings.formatwarning = one_line
        try:
            yield
        finally:
            warnings.formatwarning = previous


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gan-regularizers`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is None:
        parser.print_help()
        return 2
    try:
        with _one_line_warnings(args.command), torch_threads(args.threads):
            return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print(f"gan-regularizers {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        if args.debug:
            raise
        print(error_line(args.command, error), file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
