"""The leaderboard page's figures (matplotlib, written to docs/images/); each returns False
when it has nothing to draw or matplotlib is missing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
IMAGES = ROOT.parent / "docs" / "images"
RUNS = ROOT / "runs" / "leaderboard"
Table = dict[str, dict[int, dict[str, float]]]
LOG_SCALE = {"fd:mnist-evaluator", "kid"}  # λ = 8's collapsed runs are 20-40× the rest


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt: Any, figure: Any, name: str, dpi: int = 100) -> bool:
    figure.tight_layout()
    figure.savefig(IMAGES / name, dpi=dpi)
    plt.close(figure)
    return True


def plot_setups(table: Table, setups: list[str], metrics: list[str]) -> bool:
    """Per-seed values (dots) and means (bars) of every setup, one panel per metric."""
    plt = _pyplot()
    setups = [s for s in setups if s in table]
    if plt is None or not setups:
        return False
    figure, axes = plt.subplots(len(metrics), 1, figsize=(10, 2.2 * len(metrics)), sharex=True)
    for axis, metric in zip(axes, metrics, strict=True):
        for x, setup in enumerate(setups):
            values = [run[metric] for run in table[setup].values()]
            axis.bar(x, sum(values) / len(values), color="tab:blue", alpha=0.35)
            axis.plot([x] * len(values), values, "k.", markersize=5)
        axis.set_ylabel(metric + (" (log)" if metric in LOG_SCALE else ""), fontsize=8)
        if metric in LOG_SCALE:
            axis.set_yscale("log")
    axes[-1].set_xticks(range(len(setups)), setups, rotation=30, ha="right", fontsize=7)
    return _save(plt, figure, "leaderboard.png")


def plot_grids(setups: list[str], seed: int = 0) -> bool:
    """Each setup's 1,200-step sample grid of ``seed``, side by side (needs the run folders)."""
    plt = _pyplot()
    grids = [(s, RUNS / f"{s}_seed{seed}" / "samples" / "step_001200.png") for s in setups]
    grids = [(s, path) for s, path in grids if path.is_file()]
    if plt is None or not grids:
        return (IMAGES / "leaderboard_grids.png").is_file()  # keep the committed figure
    columns = 5
    rows = -(-len(grids) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(2.6 * columns, 2.8 * rows))
    for axis in axes.flat:
        axis.axis("off")
    for axis, (setup, path) in zip(axes.flat, grids, strict=False):
        axis.imshow(plt.imread(path), cmap="gray")
        axis.set_title(setup, fontsize=8)
    return _save(plt, figure, "leaderboard_grids.png", dpi=72)


def plot_sweep(table: Table, sweep: list[tuple[str, float]]) -> bool:
    """FD, recall and acceptance against λ (per-seed dots, mean line)."""
    plt = _pyplot()
    points = [(setup, weight) for setup, weight in sweep if setup in table]
    if plt is None or len(points) < 2:
        return False
    metrics = ["fd:mnist-evaluator", "recall", "modes-accepted"]
    figure, axes = plt.subplots(1, len(metrics), figsize=(10, 2.8))
    for axis, metric in zip(axes, metrics, strict=True):
        means = []
        for x, (setup, _) in enumerate(points):
            values = [run[metric] for run in table[setup].values()]
            axis.plot([x] * len(values), values, "k.", markersize=5)
            means.append(sum(values) / len(values))
        axis.plot(range(len(points)), means, "-", color="tab:blue")
        axis.set_xticks(range(len(points)), [f"λ={w:g}" for _, w in points], fontsize=8)
        axis.set_title(metric + (" (log)" if metric in LOG_SCALE else ""), fontsize=9)
        if metric in LOG_SCALE:
            axis.set_yscale("log")
    return _save(plt, figure, "leaderboard_sweep.png")


def plot_curves(curves: Table) -> bool:
    """Mean FD and acceptance against training steps, with each seed's line faint."""
    from curves import LENGTHS, SETUPS

    plt = _pyplot()
    if plt is None or not curves:
        return False
    metrics = ["fd:mnist-evaluator", "modes-accepted"]
    figure, axes = plt.subplots(1, len(metrics), figsize=(10, 3.2))
    for axis, metric in zip(axes, metrics, strict=True):
        for color, setup in zip(["tab:gray", "tab:blue", "tab:orange"], SETUPS, strict=True):
            lengths = [n for n in LENGTHS if f"{setup}@{n}" in curves]
            if not lengths:
                continue
            per_seed = [
                [curves[f"{setup}@{n}"].get(s, {}).get(metric) for n in lengths] for s in range(5)
            ]
            for values in per_seed:
                axis.plot(lengths, values, color=color, alpha=0.25, linewidth=0.8)
            means = [
                sum(v for v in column if v is not None) / sum(v is not None for v in column)
                for column in zip(*per_seed, strict=True)
            ]
            axis.plot(lengths, means, "o-", color=color, label=setup)
        axis.set_xscale("log")
        axis.minorticks_off()
        measured = [n for n in LENGTHS if any(name.endswith(f"@{n}") for name in curves)]
        axis.set_xticks(measured, [str(n) for n in measured])
        axis.set_xlabel("steps")
        axis.set_title(metric, fontsize=9)
    axes[0].legend(fontsize=7)
    return _save(plt, figure, "leaderboard_curves.png")
