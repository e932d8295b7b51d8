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
    "images_per_s": "images / s (last interval)",
    "elapsed_s": "training time (s)",
    "images_per_s_run": "images / s (whole run)",
}


def _format(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _link(target: Path, report_dir: Path) -> str:
    return Path(os.path.relpath(target, report_dir)).as_posix()


_NOT_NUMBERS = ("step", "d_label", "d_equilibrium")


def whole_run_throughput(row: Mapping[str, Any], batch_size: int) -> float | None:
    """Images per second over the whole run: ``step · batch_size / elapsed_s``."""
    elapsed = row.get("elapsed_s")
    if not isinstance(elapsed, (int, float)) or elapsed <= 0:
        return None
    return row["step"] * batch_size / elapsed


def _label(key: str, row: Mapping[str, Any]) -> str:
    summary = row.get("d_label", "mean logit")
    if key in ("d_real", "d_fake"):
        equilibrium = row.get("d_equilibrium")
        where = "real" if key == "d_real" else "fake"
        note = f", equilibrium {equilibrium:g}" if isinstance(equilibrium, (int, float)) else ""
        return f"{summary} on {where} images{note}"
    return _LABELS.get(key, key)


def final_numbers_table(columns: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """A markdown table: one row per metric, one column per run (its last metrics row)."""
    keys: list[str] = []
    for row in columns.values():
        keys += [k for k in row if k not in keys and k not in _NOT_NUMBERS]
    header = "| metric | " + " | ".join(columns) + " |"
    lines = [header, "|---" * (len(columns) + 1) + "|"]
    lines.append("| step | " + " | ".join(_format(r.get("step")) for r in columns.values()) + " |")
    for key in keys:
        cells = " | ".join(_format(r.get(key, "–")) for r in columns.values())
        first = next((r for r in columns.values() if key in r), {})
        lines.append(f"| {_label(key, first)} | {cells} |")
    return lines


def _architecture(config: Mapping[str, Any]) -> str:
    """The run's architecture as its config names it (configs without the key trained DCGAN)."""
    return str(config.get("architecture") or "dcgan")


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
        f"architecture `{_architecture(config)}` {config['image_size']}×{config['image_size']}, "
        f"batch {config['batch_size']}, "
        f"seed {config['seed']}{_extras(config)}. The resolved config is in `config.toml`; "
        "each launch (start, resume, changed keys) is in `history.jsonl`.",
        "",
        "## Final numbers",
        "",
        *(
            final_numbers_table({"this run": _with_throughput(rows[-1], config)})
            if rows
            else ["(no metrics logged)"]
        ),
        "",
        "## Samples (fixed z" + (", EMA generator)" if _has_ema(config) else ")"),
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
    lines += _history_lines(run_dir)
    path = run_dir / REPORT_NAME
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _history_lines(run_dir: Path) -> list[str]:
    """One line per launch recorded in ``history.jsonl`` (start, resumes, changed keys)."""
    from gan_regularizers.training.run_folder import read_history

    lines = []
    for launch in read_history(run_dir):
        changes = ", ".join(f"`{k}` {old} → {new}" for k, (old, new) in launch["changed"].items())
        lines.append(f"- {launch['time']}: {launch['event']} at step {launch['step']}"
                     + (f" ({changes})" if changes else ""))  # fmt: skip
    return ["", "## History", "", *lines] if lines else []


def _has_ema(config: Mapping[str, Any]) -> bool:
    """Whether the run kept a G-EMA (``ema_decay`` or ``ema_kimg``, a number or a schedule)."""
    return bool(config.get("ema_decay")) or config.get("ema_kimg") not in (None, 0, 0.0)


def _kimg(value: Any) -> str:
    """``10`` → ``"10 kimg"``; a schedule's text as it is (its lengths carry their unit)."""
    return value if isinstance(value, str) else f"{value:g} kimg"


def _extras(config: Mapping[str, Any]) -> str:
    """The augmentation and the G-EMA of a run, when it has them."""
    parts = []
    if config.get("augment"):
        parts.append(f"augmentation `{config['augment']}`")
    if config.get("ema_decay"):
        parts.append(
            f"G-EMA decay {config['ema_decay']:g} (the EMA generator draws the samples and is "
            "the one evaluation loads)"
        )
    elif _has_ema(config):
        ramp = f", ramp-up {config['ema_rampup']:g}" if config.get("ema_rampup") else ""
        parts.append(
            f"G-EMA half-life {_kimg(config['ema_kimg'])}{ramp} (the EMA generator draws the "
            "samples and is the one evaluation loads)"
        )
    return "; " + "; ".join(parts) if parts else ""


def _with_throughput(row: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    """The row with ``images / s`` over the whole run added."""
    throughput = whole_run_throughput(row, int(config["batch_size"]))
    return {**row, "images_per_s_run": throughput} if throughput is not None else dict(row)


def write_comparison_report(
    out_dir: Path,
    title: str,
    intro: Sequence[str],
    runs: Mapping[str, Path],
    rows: Mapping[str, Sequence[Mapping[str, Any]]],
    curves: Mapping[str, Path],
    extra: Sequence[str] = (),
    throughput: Mapping[str, float] | None = None,
) -> Path:
    """Write ``out_dir/report.md``: runs side by side (last grids, final numbers, curves).

    ``throughput`` (images per second of each whole run) replaces the last interval's rate.
    """
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
    finals = {label: (dict(list(r)[-1]) if r else {}) for label, r in rows.items()}
    for label, rate in (throughput or {}).items():
        finals[label].pop("images_per_s", None)
        finals[label]["images_per_s_run"] = rate
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
