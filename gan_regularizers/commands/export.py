"""``gan-regularizers export RUN OUT``: the run's generator as a ``torch.export`` program
(``generator.pt2``, runs with plain torch), ``generator.safetensors`` and a JSON card, in the
folder ``OUT`` (see ``gan_regularizers.export``)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``export`` sub-command's arguments."""
    parser.add_argument("run", type=Path, help="a run folder, or its checkpoint file")
    parser.add_argument("out", type=Path, help="a new or empty output folder")


def run(args: argparse.Namespace) -> int:
    """Export and print where the files are and how to load them."""
    from gan_regularizers.export import PROGRAM_NAME, export_generator

    card = export_generator(args.run, args.out)
    print(f"wrote {args.out / PROGRAM_NAME}, the weights and {card}")
    print(f"load with plain torch: torch.export.load('{args.out / PROGRAM_NAME}').module()")
    return 0
