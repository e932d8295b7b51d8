"""Mean and 95 % t-interval over seeds of the metrics that `gan-regularizers eval` wrote.

Each argument is ``LABEL=GLOB``: the run folders (one per seed) of a setup, each holding the
``metrics.json`` of ``gan-regularizers eval``. Used for the CelebA commands in
``experiments/celeba64_paper.md``; prints a markdown table and writes ``--out`` JSON.

Usage: python experiments/seed_summary.py "dcgan=runs/celeba64-dcgan-s*" \
           "dcgan+centroid=runs/celeba64-centroid-s*" --out experiments/results/celeba64.json
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from stats import fmt, overlap, t_interval, write_json  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("setups", nargs="+", help="LABEL=GLOB of run folders")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    summary: dict[str, dict] = {}
    for item in args.setups:
        label, _, pattern = item.partition("=")
        values: dict[str, list[float]] = {}
        for run in sorted(glob.glob(pattern)):
            path = Path(run) / "metrics.json"
            if not path.is_file():
                print(f"skipping {run}: no metrics.json (run gan-regularizers eval first)")
                continue
            for name, result in json.loads(path.read_text()).get("metrics", {}).items():
                values.setdefault(name, []).append(float(result["value"]))
        summary[label] = {name: t_interval(v) for name, v in values.items()}
    names = sorted({name for s in summary.values() for name in s})
    print("| setup | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for label, metrics in summary.items():
        cells = [
            f"{fmt(metrics[n], 4)} (n={metrics[n]['n']})" if n in metrics else "" for n in names
        ]
        print(f"| {label} | " + " | ".join(cells) + " |")
    labels = list(summary)
    for other in labels[1:]:
        for name in names:
            a, b = summary[labels[0]].get(name), summary[other].get(name)
            if a and b and a["low"] is not None and b["low"] is not None:
                verdict = (
                    "no detectable difference" if overlap(a, b) else "intervals do not overlap"
                )
                print(f"- {name}: {labels[0]} vs {other}: {verdict}")
    if args.out:
        write_json(
            Path(args.out),
            {"summary": summary, "interval": "95% Student-t over seeds (metrics.seed_summary)"},
        )


if __name__ == "__main__":
    main()
