"""``report.md``: a run's sample grids, curves and final numbers, or two runs side by side."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

REPORT_NAME = "report.md"

_LABELS = {
    "loss_d": "discriminator loss",
    "loss_g": "generator loss (total)",
    "loss_g_adv": "generator loss (adversarial)",
    "d_real": "D(x), mean sigmoid",
    "d_fake": "D(G(z)), mean sigmoid",
    "images_per_s": "images / s",
    "elapsed_s": "training time (s)",
}


def _format(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _link(target: Path, report_dir: Path) -> str:
    return Path(os.path.relpath(target, report_dir)).as_posix()


def final_numbers_table(columns: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """A markdown table: one row per metric, one column per run (its last metrics row)."""
    keys: list[str] = []
    for row in columns.values():
        keys += [k for k in row if k not in keys and k != "step"]
    header = "| metric | " + " | ".join(columns) + " |"
    lines = [header, "|---" * (len(columns) + 1) + "|"]
    lines.append("| step | " + " | ".join(_format(r.get("step")) for r in columns.values()) + " |")
    for key in keys:
        cells = " | ".join(_format(r.get(key, "–")) for r in columns.values())
        lines.append(f"| {_LABELS.get(key, key)} | {cells} |")
    return lines


def write_run_report(
    run_dir: Path,
    config: Mapping[str, Any],
    rows: Sequence[Mapping[str, Any]],
    grids: Sequence[Path],
    curves: Mapping[str, Path],
    status: str = "finished",
) -> Path:
    """Write ``run_dir/report.md`` for one run."""
    lines = [
        "# Training report",
        "",
        f"Status: **{status}**. Data `{config['data']}`, loss `{config['loss']}`, regularizers "
        f"{', '.join(f'`{r}`' for r in config['regularizers']) or 'none'}; "
        f"DCGAN {config['image_size']}×{config['image_size']}, batch {config['batch_size']}, "
        f"seed {config['seed']}. The resolved config is in `config.toml`.",
        "",
        "## Final numbers",
        "",
        *(final_numbers_table({"this run": rows[-1]}) if rows else ["(no metrics logged)"]),
        "",
        "## Samples (fixed z)",
        "",
    ]
    if grids:
        lines += [f"Step {int(grids[-1].stem.split('_')[1])}:", ""]
        lines += [f"![samples at the last step]({_link(grids[-1], run_dir)})", ""]
        if len(grids) > 1:
            lines += ["Earlier grids: " + ", ".join(
                f"[{int(g.stem.split('_')[1])}]({_link(g, run_dir)})" for g in grids[:-1]
            ), ""]  # fmt: skip
    lines += ["## Curves", ""]
    lines += [f"![{name}]({_link(path, run_dir)})" for name, path in curves.items()]
    path = run_dir / REPORT_NAME
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_comparison_report(
    out_dir: Path,
    title: str,
    intro: Sequence[str],
    runs: Mapping[str, Path],
    rows: Mapping[str, Sequence[Mapping[str, Any]]],
    curves: Mapping[str, Path],
    extra: Sequence[str] = (),
) -> Path:
    """Write ``out_dir/report.md``: runs side by side (last grids, final numbers, curves)."""
    from gan_regularizers.training.samples import list_grids

    lines = [f"# {title}", "", *intro, "", "## Samples from the same fixed z", ""]
    lines.append("| " + " | ".join(runs) + " |")
    lines.append("|---" * len(runs) + "|")
    cells = []
    for label, run_dir in runs.items():
        grids = list_grids(run_dir)
        cells.append(f"![{label}]({_link(grids[-1], out_dir)})" if grids else "(no samples)")
    lines += ["| " + " | ".join(cells) + " |", ""]
    lines += ["## Final numbers", ""]
    finals = {label: (list(r)[-1] if r else {}) for label, r in rows.items()}
    lines += [*final_numbers_table(finals), ""]
    lines += list(extra)
    lines += ["## Curves", ""]
    lines += [f"![{name}]({_link(path, out_dir)})" for name, path in curves.items()]
    lines += ["", "## Each run", ""]
    lines += [f"- {label}: [{_link(d / REPORT_NAME, out_dir)}]({_link(d / REPORT_NAME, out_dir)})"
              for label, d in runs.items()]  # fmt: skip
    path = out_dir / REPORT_NAME
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
