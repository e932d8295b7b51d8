"""``metrics.jsonl``: one JSON object per logged step, appended and flushed as training goes.

Keys: ``step``, ``loss_d`` (adversarial + discriminator-side regularizers), ``loss_d_adv`` (when
there are such regularizers), ``loss_g`` (adversarial + generator-side regularizers),
``loss_g_adv``, ``reg/<term>`` (each weighted regularizer), ``d_real`` and ``d_fake``: D's outputs
on real and fake images before the discriminator's update, summarised by the loss's
``LogitSummary`` (BCE: mean σ; others: the mean
logit), with ``d_label`` and ``d_equilibrium`` (None when the loss has none) recorded in every row;
``diag/<term>/<key>`` (regularizers' and the augmentation's ``diagnostics``), ``images_per_s`` and
``elapsed_s``. Losses and D outputs are means over the steps since the previous line.

A resume keeps the rows up to the checkpoint's step and drops the later ones by writing the kept
rows to a temporary file and moving it over the old one (``os.replace``): a kill at that moment
leaves the whole old history, never an empty or half-written file.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from gan_regularizers.files.atomic import atomic_write

METRICS_NAME = "metrics.jsonl"


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """Every row of a ``metrics.jsonl`` file (an empty list if it does not exist)."""
    path = Path(path)
    if path.is_dir():
        path = path / METRICS_NAME
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                break  # a line cut short by a kill: everything before it is good
    return rows


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


class MetricsLog:
    """Append rows to ``run_dir/metrics.jsonl``; a resume drops rows after the checkpoint."""

    def __init__(self, run_dir: Path, resume_step: int | None = None) -> None:
        self.path = run_dir / METRICS_NAME
        kept: list[dict[str, Any]] = []
        if resume_step is not None:
            kept = [row for row in read_metrics(self.path) if row.get("step", 0) <= resume_step]
        text = "".join(json.dumps(row) + "\n" for row in kept).encode("utf-8")
        atomic_write(self.path, lambda file: file.write(text))  # a kill keeps the old history
        self._handle = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - held open

    def write(self, row: dict[str, Any]) -> None:
        """Append one row and flush it."""
        self._handle.write(json.dumps({k: _jsonable(v) for k, v in row.items()}) + "\n")
        self._handle.flush()

    def close(self) -> None:
        """Close the file."""
        self._handle.close()
