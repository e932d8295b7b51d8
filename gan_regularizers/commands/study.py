"""``gan-regularizers study run|status|report|verify``: setups × seeds × lengths with paired,
Holm-corrected verdicts and random-feature-space controls (docs/studies.md)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``study`` sub-commands and their arguments."""
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    run = actions.add_parser("run", help="train and score every run not done yet")
    run.add_argument("study", type=Path, help="the study file (TOML)")
    run.add_argument("--out", type=Path, required=True, help="the study's folder")
    run.add_argument("--jobs", type=int, default=1, help="runs at a time (default 1)")
    run.add_argument("--engine", choices=("local", "ray"), default="local")
    run.add_argument("--ray-address", default=None, help="an existing Ray cluster")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    status = actions.add_parser("status", help="done, failed and pending runs")
    status.add_argument("out", type=Path, help="the study's folder")
    status.add_argument("--json", action="store_true", help="print JSON")
    report = actions.add_parser("report", help="write the markdown report from results.json")
    report.add_argument("out", type=Path, nargs="+", help="the study's folder (or several)")
    report.add_argument(
        "--page", type=Path, default=None, help="write one page here (default: DIR/report.md)"
    )
    report.add_argument("--title", default=None, help="the page's title (several studies)")
    report.add_argument(
        "--notes",
        type=Path,
        default=None,
        help="a markdown file appended as the page's reading of the data",
    )
    report.add_argument("--no-images", action="store_true", help="text only, same links")
    verify = actions.add_parser("verify", help="re-train stored runs and compare")
    verify.add_argument("out", type=Path, help="the study's folder")
    verify.add_argument("--sample", type=int, default=1, metavar="K", help="runs to re-train")


def run(args: argparse.Namespace) -> int:
    """Dispatch to the action; print what it did."""
    from gan_regularizers import study

    if args.action == "run":
        if args.jobs < 1:
            raise study.StudyError(f"--jobs must be ≥ 1, got {args.jobs}.")
        summary = study.run(
            args.study,
            args.out,
            jobs=args.jobs,
            engine=args.engine,
            ray_address=args.ray_address,
            progress=not args.quiet,
        )
        report = study.report(args.out)
        print(
            f"{summary['trained']} runs done now, {summary['failed']} failed, "
            f"{summary['pending']} waiting; {summary['seconds']:.1f} s. Report: {report}"
        )
        return 1 if summary["failed"] else 0
    if args.action == "status":
        from gan_regularizers.study.status import status_lines

        status = study.status(args.out)
        print(json.dumps(status, indent=1) if args.json else "\n".join(status_lines(status)))
        return 0
    if args.action == "report":
        print(
            study.report(
                args.out, args.page, title=args.title, images=not args.no_images, notes=args.notes
            )
        )
        return 0
    from gan_regularizers.study.verify import verify_lines

    reports = study.verify(args.out, sample=args.sample)
    print("\n".join(verify_lines(reports)))
    return 0 if all(r["status"] == "done" for r in reports) else 1
