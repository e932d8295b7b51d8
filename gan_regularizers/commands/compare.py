"""``gan-regularizers compare RUN_A RUN_B …``: every metric of every run, side by side.

Writes ``comparison.md`` (a table with 95 % intervals and the protocol), ``comparison.csv`` and
``comparison.png`` (a bar chart with the intervals as error bars). A run's ``metrics.json`` is
reused when it holds the same metrics measured with the same protocol; otherwise the run is
evaluated. Unless a Fréchet distance in a space that no run's regularizer used is already
requested, one is added (``fd:mnist-classifier`` for mnist5k, ``fid`` otherwise).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gan_regularizers.commands.eval import (
    add_metric_arguments,
    default_metrics,
    evaluate_run,
    write_json_atomic,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``compare`` sub-command's arguments."""
    parser.add_argument("runs", type=Path, nargs="+", help="run folders (two or more)")
    parser.add_argument(
        "--out", type=Path, default=Path("comparison"), help="output folder (default comparison/)"
    )
    add_metric_arguments(parser)


def independent_metrics(names: list[str], spaces: set[str], data: str) -> list[str]:
    """``names`` plus a Fréchet distance in a space no regularizer optimised, when none is."""
    measured = {"inception" if n == "fid" else n[3:] for n in names if n == "fid" or n[:3] == "fd:"}
    if measured - spaces:
        return names
    extra = "fd:mnist-classifier" if data == "mnist5k" else "fid"
    return [*names, extra] if extra not in names else names


def _reusable(path: Path, names: list[str], args: argparse.Namespace) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
        protocol = payload["protocol"]
        same = (
            protocol["num_fake"] == args.n
            and protocol["fake_seed"] == args.seed
            and set(names) <= set(payload["metrics"]) | set(payload.get("skipped", {}))
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return payload if same else None


def compare_runs(runs: Sequence[Path], args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Metrics of every run (``{run name: metrics.json payload}``), evaluated as needed."""
    from gan_regularizers.distributed import is_main_process
    from gan_regularizers.metrics.evaluate import MetricError
    from gan_regularizers.training.run_loading import load_run

    if len(runs) < 2:
        raise MetricError(f"compare needs at least two runs, got {len(runs)}.")
    loaded = [load_run(run, "cpu") for run in runs]
    spaces = {space for run in loaded for space in run.regularizer_spaces}
    data = loaded[0].data
    names = [n.strip() for n in (args.metrics or default_metrics(data)).split(",") if n.strip()]
    names = independent_metrics(names, spaces, data)
    per_run: dict[str, dict[str, Any]] = {}
    for run, path in zip(loaded, runs, strict=True):
        run_dir = path if path.is_dir() else path.parent
        cached = _reusable(run_dir / "metrics.json", names, args)
        if cached is None:
            metric_args = argparse.Namespace(**{**vars(args), "metrics": ",".join(names)})
            cached = evaluate_run(path, metric_args, explicit=args.metrics is not None)
            if is_main_process():
                write_json_atomic(cached, run_dir / "metrics.json")
        label = run.name if run.name not in per_run else str(run_dir)
        per_run[label] = cached
    return per_run


def _cell(metric: Mapping[str, Any] | None) -> str:
    if metric is None:
        return "–"
    if metric["name"] == "modes":
        d = metric["details"]
        return (
            f"{d['classes_covered']}/{d['num_classes']} classes, KL {d['kl_to_uniform']:.3f} "
            f"[{d['kl_low']:.3f}, {d['kl_high']:.3f}]"
        )
    if metric["low"] is None:
        return f"{metric['value']:.4g}"
    return f"{metric['value']:.4g} [{metric['low']:.4g}, {metric['high']:.4g}]"


def metric_names(per_run: Mapping[str, Mapping[str, Any]]) -> list[str]:
    return list(dict.fromkeys(n for payload in per_run.values() for n in payload["metrics"]))


def comparison_table(per_run: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Markdown rows: one per metric, one column per run, values with 95 % intervals."""
    lines = ["| metric | " + " | ".join(per_run) + " |", "|---" * (len(per_run) + 1) + "|"]
    for name in metric_names(per_run):
        cells = [_cell(payload["metrics"].get(name)) for payload in per_run.values()]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def comparison_csv(per_run: Mapping[str, Mapping[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["run", "metric", "value", "low", "high"])
    for run, payload in per_run.items():
        for name, metric in payload["metrics"].items():
            writer.writerow([run, name, metric["value"], metric["low"], metric["high"]])
    return buffer.getvalue()


def comparison_chart(per_run: Mapping[str, Mapping[str, Any]], path: Path) -> Path | None:
    """One bar panel per metric, runs side by side, intervals as error bars (matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    names = metric_names(per_run)
    figure, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3.2), squeeze=False)
    for axis, name in zip(axes[0], names, strict=True):
        labels, values, errors = [], [], [[], []]
        for run, payload in per_run.items():
            metric = payload["metrics"].get(name)
            if metric is None:
                continue
            value = metric["value"]
            if name == "modes":
                value = metric["details"]["kl_to_uniform"]
                low, high = metric["details"]["kl_low"], metric["details"]["kl_high"]
            else:
                low, high = metric["low"], metric["high"]
            labels.append(run)
            values.append(value)
            errors[0].append(value - low if low is not None else 0.0)
            errors[1].append(high - value if high is not None else 0.0)
        axis.bar(range(len(values)), values, yerr=errors, capsize=4, color="tab:blue")
        axis.set_xticks(range(len(labels)), labels, rotation=20, ha="right", fontsize=8)
        axis.set_title("modes: KL to uniform" if name == "modes" else name, fontsize=9)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def protocol_lines(per_run: Mapping[str, Mapping[str, Any]]) -> list[str]:
    first = next(iter(per_run.values()))["protocol"]
    versions = ", ".join(f"{k} {v}" for k, v in first["versions"].items())
    lines = [
        "## Protocol",
        "",
        f"- generated images per run: {first['num_fake']} (latent seed {first['fake_seed']}, "
        f"generator in {first['generator_mode']}); real images: {first['num_real']} "
        f"({first['reference_split']})",
        f"- batch size {first['batch_size']}; LPIPS pairs: {first['lpips_pairs']}",
        "- intervals: Fréchet distances, 95% delete-one-fold jackknife over 10 folds of the "
        "generated samples; lpips-div, 95% bootstrap over pairs; modes, KL's 95% bootstrap",
        f"- versions: {versions}",
    ]
    for name, descriptor in first["feature_spaces"].items():
        lines.append(f"- {name} space: `{json.dumps(descriptor, sort_keys=True)}`")
    for run, payload in per_run.items():
        for name, reason in payload.get("skipped", {}).items():
            lines.append(f"- {run}: {name} skipped: {reason}")
        spaces = payload.get("regularizer_spaces") or []
        if spaces:
            lines.append(f"- {run}: regularized in {', '.join(spaces)} (not an evaluation space)")
    return [*lines, ""]


def write_comparison(per_run: Mapping[str, Mapping[str, Any]], out: Path) -> dict[str, Path]:
    """``comparison.md``, ``.csv`` and ``.png`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    chart = comparison_chart(per_run, out / "comparison.png")
    lines = ["# Comparison", "", *comparison_table(per_run), ""]
    if chart is not None:
        lines += ["![metrics](comparison.png)", ""]
    lines += protocol_lines(per_run)
    markdown = out / "comparison.md"
    markdown.write_text("\n".join(lines), encoding="utf-8")
    table = out / "comparison.csv"
    table.write_text(comparison_csv(per_run), encoding="utf-8")
    written = {"markdown": markdown, "csv": table}
    if chart is not None:
        written["chart"] = chart
    return written


def run(args: argparse.Namespace) -> int:
    """Compare the runs; print the table and where the files are (rank 0 under torchrun)."""
    from gan_regularizers.distributed import command_device, is_main_process, process_group

    with process_group(command_device(args.device)):
        per_run = compare_runs(args.runs, args)
        if not is_main_process():
            return 0
    written = write_comparison(per_run, args.out)
    print("\n".join(comparison_table(per_run)))
    for kind, path in written.items():
        print(f"wrote {kind}: {path}")
    return 0
