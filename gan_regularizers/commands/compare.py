"""``gan-regularizers compare RUN_A RUN_B …``: every metric of every run, side by side.

Writes ``comparison.md`` (a table with 95 % sampling intervals and the protocol),
``comparison.csv`` and ``comparison.png`` (a bar chart with the intervals as error bars). A run's
stored result is reused only when its reuse key matches (every argument that changes the number,
``gan_regularizers.metrics.store``); otherwise the run is evaluated and the result added to its
``metrics.json``. Unless a metric in a space that no run's regularizer used is already requested,
a neutral one is added: FD-DINOv2 (with Inception ``fid`` as the legacy number) where its weights
are available, else the dataset's declared ``neutral_metric``, else ``fid``
(``gan_regularizers.metrics.neutral``); the choice is stated in the report.
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
    EvaluationSettings,
    add_metric_arguments,
    evaluate_run,
    metric_options,
    require_results,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``compare`` sub-command's arguments."""
    parser.add_argument("runs", type=Path, nargs="+", help="run folders (two or more)")
    parser.add_argument(
        "--out", type=Path, default=Path("comparison"), help="output folder (default comparison/)"
    )
    add_metric_arguments(parser)


def independent_metrics(
    names: list[str], spaces: set[str], dataset: object = None, dinov2_weights: str | None = None
) -> tuple[list[str], str | None]:
    """``names`` plus a neutral metric when every feature metric is in a regularizer's space."""
    from gan_regularizers.metrics.evaluation import is_feature_metric, resolve_metrics
    from gan_regularizers.metrics.neutral import neutral_metrics

    measured = {m.feature_space for m in resolve_metrics(names) if is_feature_metric(m)}
    if measured - spaces:
        return names, None
    added, note = neutral_metrics(dataset, dinov2_weights)
    return [*names, *(a for a in added if a not in names)], note


def _reuse(run: Any, run_dir: Path, metric: Any, settings: EvaluationSettings) -> dict | None:
    from gan_regularizers.metrics.store import find_entry, read_entries, reuse_fields, reuse_key

    facts = {"step": run.step, "weights": run.weights}
    try:
        fields = reuse_fields(metric, run=facts, **settings.protocol())
    except Exception:  # the metric cannot even be built here: evaluate_run reports why
        return None
    return find_entry(read_entries(run_dir / "metrics.json"), reuse_key(fields))


def compare_runs(
    runs: Sequence[Path],
    *,
    metrics: list[str] | None = None,
    settings: EvaluationSettings | None = None,
) -> dict[str, dict[str, Any]]:
    """Metrics of every run (``{run name: payload}``), reused or evaluated as needed.

    Raises ``MetricError`` when no metric could be computed for
    some run (offline, every default skipped), naming them and the metrics that run offline.
    """
    from gan_regularizers.data.sources import load_dataset
    from gan_regularizers.errors import MetricError
    from gan_regularizers.metrics.defaults import default_metrics
    from gan_regularizers.metrics.evaluation import resolve_metrics
    from gan_regularizers.training.run_loading import load_run

    if len(runs) < 2:
        raise MetricError(f"compare needs at least two runs, got {len(runs)}.")
    loaded = [load_run(run, "cpu") for run in runs]
    spaces = {space for run in loaded for space in run.regularizer_spaces}
    dataset = load_dataset(loaded[0].data, image_size=loaded[0].image_size)
    names = list(metrics or default_metrics(dataset))
    names, note = independent_metrics(names, spaces, dataset)
    resolved = resolve_metrics(names)
    asked = {m.spec for m in resolve_metrics(metrics)} if metrics else set()
    optional = tuple(m.spec for m in resolved if m.spec not in asked)
    settings = settings or EvaluationSettings()
    per_run: dict[str, dict[str, Any]] = {}
    for run, path in zip(loaded, runs, strict=True):
        run_dir = path if path.is_dir() else path.parent
        payload = _run_payload(run, path, run_dir, resolved, optional, settings)
        require_results(payload["metrics"], payload["skipped"], dataset)
        payload["note"] = note
        label = run.name if run.name not in per_run else str(run_dir)
        per_run[label] = payload
    return per_run


def _run_payload(
    run: Any,
    path: Path,
    run_dir: Path,
    metrics: list[Any],
    optional: tuple,
    settings: EvaluationSettings,
) -> dict[str, Any]:
    """One run's results: stored entries whose key matches, the rest evaluated now."""
    from gan_regularizers.distributed import is_main_process
    from gan_regularizers.metrics.store import add_entries

    reused = {m.spec: _reuse(run, run_dir, m, settings) for m in metrics}
    missing = [spec for spec, entry in reused.items() if entry is None]
    entries = [entry for entry in reused.values() if entry is not None]
    payload: dict[str, Any] = {"skipped": {}, "protocol": entries[0]["protocol"] if entries else {}}
    if missing:
        payload = evaluate_run(
            path, metrics=missing, optional=optional, settings=settings, require=False
        )
        if is_main_process():
            add_entries(run_dir / "metrics.json", payload["entries"])
        entries += payload["entries"]
    results = {name: r for entry in entries for name, r in entry["results"].items()}
    return {
        "metrics": results,
        "protocol": payload["protocol"],
        "skipped": payload["skipped"],
        "regularizer_spaces": run.regularizer_spaces,
        "reused": sorted(spec for spec, entry in reused.items() if entry is not None),
    }


def _cell(metric: Mapping[str, Any] | None) -> str:
    from gan_regularizers.metrics.formatting import format_result

    return "–" if metric is None else format_result(metric)


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
    if not names:
        return None
    figure, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3.2), squeeze=False)
    for axis, name in zip(axes[0], names, strict=True):
        labels, values, errors = [], [], [[], []]
        for run, payload in per_run.items():
            metric = payload["metrics"].get(name)
            if metric is None:
                continue
            value, low, high = metric["value"], metric["low"], metric["high"]
            labels.append(run)
            values.append(value)
            # a bias-corrected interval may exclude the point estimate: draw no negative bar
            errors[0].append(max(0.0, value - low) if low is not None else 0.0)
            errors[1].append(max(0.0, high - value) if high is not None else 0.0)
        axis.bar(range(len(values)), values, yerr=errors, capsize=4, color="tab:blue")
        axis.set_xticks(range(len(labels)), labels, rotation=20, ha="right", fontsize=8)
        axis.set_title(name, fontsize=9)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def protocol_lines(per_run: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The protocol section: sample sizes, subsets, seeds, intervals, versions, spaces, notes."""
    from gan_regularizers.metrics.result import SAMPLING_CAVEAT

    first = next((p["protocol"] for p in per_run.values() if p.get("protocol")), {})
    versions = ", ".join(f"{k} {v}" for k, v in first.get("versions", {}).items())
    subset = first.get("real_subset", {})
    split = f"{first['reference_split']}; " if first.get("reference_split") else ""
    lines = [
        "## Protocol",
        "",
        f"- generated images per run: {first.get('num_fake')} (latent seed "
        f"{first.get('fake_seed')}, {first.get('fake', {}).get('generator_mode', 'eval')} mode); "
        f"real images: {first.get('num_real')} ({split}{subset.get('selection', 'all images')})",
        f"- batch size {first.get('batch_size')}; LPIPS pairs: {first.get('pairs')}",
        f"- {SAMPLING_CAVEAT}. Each metric's interval method is in metrics.json.",
        f"- versions: {versions}",
    ]
    for name, descriptor in first.get("feature_spaces", {}).items():
        lines.append(f"- {name} space: `{json.dumps(descriptor, sort_keys=True)}`")
    from gan_regularizers.metrics.formatting import interval_notes

    notes = {p.get("note") for p in per_run.values() if p.get("note")}
    lines += [f"- {note}" for note in sorted(notes)]
    results = [m for p in per_run.values() for m in p["metrics"].values()]
    lines += [f"- {note}" for note in interval_notes(results)]
    for run, payload in per_run.items():
        for name, reason in payload.get("skipped", {}).items():
            lines.append(f"- {run}: {name} skipped: {reason}")
        spaces = payload.get("regularizer_spaces") or []
        if spaces:
            lines.append(f"- {run}: regularized in {', '.join(spaces)} (not an evaluation space)")
        if payload.get("reused"):
            lines.append(f"- {run}: reused from metrics.json: {', '.join(payload['reused'])}")
    return [*lines, ""]


def write_comparison(per_run: Mapping[str, Mapping[str, Any]], out: Path) -> dict[str, Path]:
    """``comparison.md``, ``.csv`` and ``.png`` in ``out`` (a folder, made when missing)."""
    from gan_regularizers.errors import MetricError

    if not metric_names(per_run):
        raise MetricError("no metric was computed for any run: nothing to compare or write.")
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

    options = metric_options(args)
    with process_group(command_device(args.device)):
        per_run = compare_runs(args.runs, **options)
        if not is_main_process():
            return 0
    written = write_comparison(per_run, args.out)
    print("\n".join(comparison_table(per_run)))
    for kind, path in written.items():
        print(f"wrote {kind}: {path}")
    return 0
