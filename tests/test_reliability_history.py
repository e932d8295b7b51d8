"""A resume that fails while it rewrites ``metrics.jsonl`` keeps the whole old history (issue 23).

The rewrite used to truncate the file in place: a kill at that moment took a 120,004-row history
to 0 bytes. Here the write fails midway for real: the child process may write at most 64 KiB per
file (``RLIMIT_FSIZE``; Python ignores ``SIGXFSZ``, so the write raises ``EFBIG``), and the
history is larger.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

from gan_regularizers.training.metrics_log import METRICS_NAME, MetricsLog, read_metrics

LIMIT = 64 * 1024


def _history(folder: Path, rows: int) -> bytes:
    lines = [json.dumps({"step": s, "loss_d": 1.0 / s, "loss_g": 0.5 * s}) for s in range(1, rows)]
    data = ("\n".join(lines) + "\n").encode()
    (folder / METRICS_NAME).write_bytes(data)
    return data


def _limit_file_size() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))


def test_a_failure_during_the_resume_rewrite_keeps_the_old_history(tmp_path: Path) -> None:
    before = _history(tmp_path, 6000)
    assert len(before) > 4 * LIMIT
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; "
            "from gan_regularizers.training.metrics_log import MetricsLog; "
            "MetricsLog(Path(sys.argv[1]), resume_step=5000)",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        preexec_fn=_limit_file_size,
        timeout=120,
    )
    assert child.returncode != 0 and "File too large" in child.stderr, child.stderr
    assert (tmp_path / METRICS_NAME).read_bytes() == before
    assert not [p for p in os.listdir(tmp_path) if p != METRICS_NAME]  # no temporary left


def test_a_resume_keeps_the_rows_up_to_the_checkpoint_and_appends(tmp_path: Path) -> None:
    _history(tmp_path, 11)
    log = MetricsLog(tmp_path, resume_step=4)
    log.write({"step": 5, "loss_d": 0.25})
    log.close()
    rows = read_metrics(tmp_path)
    assert [row["step"] for row in rows] == [1, 2, 3, 4, 5]
    assert rows[3]["loss_g"] == 2.0 and rows[4]["loss_d"] == 0.25


def test_a_fresh_start_empties_the_history(tmp_path: Path) -> None:
    _history(tmp_path, 11)
    MetricsLog(tmp_path).close()
    assert (tmp_path / METRICS_NAME).read_bytes() == b""
