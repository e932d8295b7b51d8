"""The ``gan-regularizers`` command line: one sub-command per job."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from gan_regularizers import __version__
from gan_regularizers.errors import GanRegularizersError
from gan_regularizers.plugin_system.registry import list_plugins

# Sub-commands in gan_regularizers/commands/<name>.py: add_arguments(parser) and run(args) -> int.
# Their modules import torch and friends only inside run(), so `--help` stays fast.
SUB_COMMANDS = {
    "train": "train a DCGAN with any loss and regularizers (TOML config + overrides)",
    "fit": "fit the centroid's reference statistics for a dataset and feature space; save them",
    "demo": "DCGAN-32 on mnist5k: BCE vs BCE + centroid, one report (CPU, a few minutes)",
    "eval": "metrics of a run's generator (fid, fd:<space>, lpips-div, modes) to metrics.json",
    "compare": "every metric of several runs side by side: markdown, CSV and a bar chart",
}


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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command."""
    parser = argparse.ArgumentParser(
        prog="gan-regularizers",
        description="GAN losses and generator regularizers on a plugin system.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    plugins = commands.add_parser(
        "plugins", help="list plugins, their distributions and the names they register"
    )
    plugins.add_argument("--json", action="store_true", help="print JSON instead of a table")
    plugins.set_defaults(handler=_run_plugins)

    for name, summary in SUB_COMMANDS.items():
        module = importlib.import_module(f"gan_regularizers.commands.{name}")
        sub = commands.add_parser(name, help=summary, description=summary)
        module.add_arguments(sub)
        sub.set_defaults(handler=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gan-regularizers`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.handler(args))
    except GanRegularizersError as error:
        print(f"gan-regularizers {args.command}: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
