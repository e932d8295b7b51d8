"""The figures of a study report (matplotlib, Agg): per-seed values, curves over length, sweeps
and sample grids. Each returns the file it wrote, or ``None`` with nothing to draw."""

from __future__ import annotations

from pathlib import Path
from typing import Any

Runs = dict[tuple[str, int, int], dict[str, Any]]


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt: Any, figure: Any, path: Path, dpi: int = 100) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=dpi)
    plt.close(figure)
    return path


def _values(runs: Runs, setup: str, steps: int, metric: str) -> list[float]:
    return [
        r["metrics"][metric]
        for (s, _, n), r in runs.items()
        if s == setup and n == steps and r["status"] == "done" and metric in r["metrics"]
    ]


def per_seed(
    runs: Runs, setups: list[str], metrics: list[str], steps: int, log: set[str], path: Path
) -> Path | None:
    """Per-seed values (dots) and means (bars) of every setup, one panel per metric."""
    plt = _pyplot()
    if plt is None or not metrics:
        return None
    figure, axes = plt.subplots(
        len(metrics), 1, figsize=(10, 2.2 * len(metrics)), sharex=True, squeeze=False
    )
    for axis, metric in zip(axes[:, 0], metrics, strict=True):
        for x, setup in enumerate(setups):
            values = _values(runs, setup, steps, metric)
            if values:
                axis.bar(x, sum(values) / len(values), color="tab:blue", alpha=0.35)
                axis.plot([x] * len(values), values, "k.", markersize=5)
        axis.set_ylabel(metric + (" (log)" if metric in log else ""), fontsize=8)
        if metric in log:
            axis.set_yscale("log")
    axes[-1, 0].set_xticks(range(len(setups)), setups, rotation=30, ha="right", fontsize=7)
    return _save(plt, figure, path)


def curves(
    runs: Runs,
    setups: list[str],
    seeds: list[int],
    lengths: list[int],
    metrics: list[str],
    path: Path,
) -> Path | None:
    """Mean of each metric against training steps, each seed's line faint."""
    plt = _pyplot()
    if plt is None or len(lengths) < 2:
        return None
    figure, axes = plt.subplots(1, len(metrics), figsize=(10, 3.2), squeeze=False)
    for axis, metric in zip(axes[0], metrics, strict=True):
        for index, setup in enumerate(setups):
            color = f"C{index}"
            points = {n: _values(runs, setup, n, metric) for n in lengths}
            measured = [n for n in lengths if points[n]]
            for seed in seeds:
                line = [
                    (n, runs[setup, seed, n]["metrics"].get(metric))
                    for n in measured
                    if runs.get((setup, seed, n), {}).get("status") == "done"
                ]
                if line:
                    axis.plot(*zip(*line, strict=True), color=color, alpha=0.25, lw=0.8)
            means = [sum(points[n]) / len(points[n]) for n in measured]
            axis.plot(measured, means, "o-", color=color, label=setup)
        axis.set_xscale("log")
        axis.minorticks_off()
        axis.set_xticks(lengths, [str(n) for n in lengths])
        axis.set_xlabel("steps")
        axis.set_title(metric, fontsize=9)
    axes[0, 0].legend(fontsize=7)
    return _save(plt, figure, path)


def sweep(
    runs: Runs,
    points: list[tuple[str, float]],
    steps: int,
    metrics: list[str],
    option: str,
    log: set[str],
    path: Path,
) -> Path | None:
    """Each metric against the swept option (per-seed dots, mean line)."""
    plt = _pyplot()
    if plt is None:
        return None
    figure, axes = plt.subplots(1, len(metrics), figsize=(10, 2.8), squeeze=False)
    for axis, metric in zip(axes[0], metrics, strict=True):
        means = []
        for x, (setup, _) in enumerate(points):
            values = _values(runs, setup, steps, metric)
            axis.plot([x] * len(values), values, "k.", markersize=5)
            means.append(sum(values) / len(values) if values else float("nan"))
        axis.plot(range(len(points)), means, "-", color="tab:blue")
        axis.set_xticks(range(len(points)), [f"{option}={v:g}" for _, v in points], fontsize=8)
        axis.set_title(metric + (" (log)" if metric in log else ""), fontsize=9)
        if metric in log:
            axis.set_yscale("log")
    return _save(plt, figure, path)


def grids(images: list[tuple[str, Path]], path: Path) -> Path | None:
    """Sample grids side by side, one per setup, titled."""
    plt = _pyplot()
    if plt is None or not images:
        return None
    columns = min(5, len(images))
    rows = -(-len(images) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(2.6 * columns, 2.8 * rows), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for axis, (setup, image) in zip(axes.flat, images, strict=False):
        axis.imshow(plt.imread(image), cmap="gray")
        axis.set_title(setup, fontsize=8)
    return _save(plt, figure, path, dpi=72)
