"""Loss and discriminator-output curves from ``metrics.jsonl`` (matplotlib, Agg, lazily)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

LOSS_CURVES = "losses.png"
D_OUTPUT_CURVES = "d_outputs.png"


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def loss_keys(rows: Sequence[dict[str, Any]]) -> list[str]:
    """``loss_d``, ``loss_g_adv``, ``loss_g`` and every ``reg/…`` key present in ``rows``."""
    keys = [k for k in ("loss_d", "loss_g_adv", "loss_g") if any(k in r for r in rows)]
    regs = sorted({k for r in rows for k in r if k.startswith("reg/")})
    return keys + regs


def plot_runs(
    runs: dict[str, Sequence[dict[str, Any]]], out_dir: Path, suffix: str = ""
) -> dict[str, Path]:
    """Write the loss and D-output curves of one or more runs; return the two paths.

    Each run gets its own line style; losses in one panel, the discriminator's outputs on real
    and fake images in the other, summarised as the loss says (``d_label``; e.g. BCE's mean
    sigmoid) with its equilibrium line (``d_equilibrium``) drawn only when the loss has one.
    """
    plt = _pyplot()
    paths = {
        "losses": out_dir / LOSS_CURVES.replace(".png", f"{suffix}.png"),
        "d_outputs": out_dir / D_OUTPUT_CURVES.replace(".png", f"{suffix}.png"),
    }
    figure, axis = plt.subplots(figsize=(7, 4))
    for index, (label, rows) in enumerate(runs.items()):
        _plot_series(axis, label if len(runs) > 1 else "", index, rows,
                     [(key, key) for key in loss_keys(rows)])  # fmt: skip
    axis.set_ylabel("loss")
    _finish(plt, figure, axis, "Losses", paths["losses"])

    label, equilibrium = d_summary(runs)
    figure, axis = plt.subplots(figsize=(7, 4))
    for index, (name, rows) in enumerate(runs.items()):
        _plot_series(axis, name if len(runs) > 1 else "", index, rows,
                     [("d_real", f"{label}, real"), ("d_fake", f"{label}, fake")])  # fmt: skip
    if equilibrium is not None:
        axis.axhline(equilibrium, color="grey", linewidth=0.8, label=f"equilibrium {equilibrium:g}")
    axis.set_ylabel(label)
    _finish(plt, figure, axis, "Discriminator outputs", paths["d_outputs"])
    return paths


_STYLES = ["-", "--", ":", "-."]


def d_summary(runs: dict[str, Sequence[dict[str, Any]]]) -> tuple[str, float | None]:
    """The D-output label and equilibrium recorded in the runs' rows (the first run's last row).

    Runs of losses with different summaries share one panel only when they agree; otherwise the
    label says so and no equilibrium is drawn.
    """
    found = {
        (rows[-1].get("d_label", "mean logit"), rows[-1].get("d_equilibrium"))
        for rows in runs.values()
        if rows
    }
    if len(found) == 1:
        return found.pop()
    return "D output (per run's loss)", None


def _plot_series(
    axis: Any,
    label: str,
    index: int,
    rows: Sequence[dict[str, Any]],
    keys_and_names: Sequence[tuple[str, str]],
) -> None:
    """One line per logged key of one run, in that run's line style."""
    prefix = f"{label}: " if label else ""
    for key, name in keys_and_names:
        points = [(r["step"], r[key]) for r in rows if isinstance(r.get(key), (int, float))]
        if points:
            steps, values = zip(*points, strict=True)
            axis.plot(steps, values, _STYLES[index % len(_STYLES)], label=f"{prefix}{name}")


def _finish(plt: Any, figure: Any, axis: Any, title: str, path: Path) -> None:
    axis.set_xlabel("step")
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
