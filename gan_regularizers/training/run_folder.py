"""The run folder: never write into a user's folder, and keep a history of each launch.

``history.jsonl`` gets one line per launch, ``{"event": "start" | "resume", "step", "time",
"changed": {key: [old, new]}}``: a resume that changes ``g_lr`` or ``d_lr`` (the NaN advice) is
recorded there. It also marks the folder as ours: ``train`` writes into an existing non-empty
folder only when it holds our ``history.jsonl``, or the ``config.toml`` (with our header) and
``metrics.jsonl`` of a run made before the history existed.

One writer per folder: ``run_folder_lock`` holds ``.gan-regularizers.lock`` (the owner's pid,
host and start) while ``train`` writes, so a second ``train`` into the folder, or a ``--resume``
while the first still runs, is refused with ``InUseError``; a lock left by a process that
died is taken over with a warning.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from gan_regularizers.distributed import is_main_process
from gan_regularizers.errors import RunFolderError
from gan_regularizers.files.lock import check_not_in_use, hold_lock
from gan_regularizers.training.checkpoint import CHECKPOINT_NAME, PREVIOUS_NAME
from gan_regularizers.training.config import ConfigError
from gan_regularizers.training.metrics_log import METRICS_NAME

HISTORY_NAME = "history.jsonl"
CONFIG_NAME = "config.toml"
CONFIG_HEADER = "# gan-regularizers training config"
LOCK_NAME = ".gan-regularizers.lock"


def is_our_run(folder: Path) -> bool:
    """Whether ``folder`` was written by ``train``."""
    if (folder / HISTORY_NAME).is_file():
        return True
    config = folder / CONFIG_NAME
    return (
        config.is_file()
        and (folder / METRICS_NAME).is_file()
        and config.read_text(encoding="utf-8", errors="replace").startswith(CONFIG_HEADER)
    )


def _lock_what(folder: Path) -> tuple[str, str]:
    return (
        f"the run folder {folder}",
        "Wait for that run to finish (then continue it with `gan-regularizers train --resume "
        f"{folder}`), or choose another --out.",
    )


def _writes() -> bool:
    """Whether this process writes the run folder: rank 0 (under torchrun, before the group)."""
    return is_main_process() and int(os.environ.get("RANK", "0") or 0) == 0


@contextlib.contextmanager
def run_folder_lock(folder: Path) -> Iterator[None]:
    """Hold the run folder's lock while training writes it (rank 0 alone; others pass through).

    Raises:
        InUseError: another process writes the folder.
    """
    if not _writes():
        yield
        return
    what, advice = _lock_what(folder)
    with hold_lock(folder / LOCK_NAME, what=what, advice=advice):
        yield


def check_new_run_folder(folder: Path) -> None:
    """Refuse a folder in use, one that holds a checkpoint, or files that are not a run of ours."""
    what, advice = _lock_what(folder)
    if _writes():  # the other ranks see rank 0's lock: it is theirs too
        check_not_in_use(folder / LOCK_NAME, what=what, advice=advice)
    if (folder / CHECKPOINT_NAME).exists() or (folder / PREVIOUS_NAME).exists():
        raise ConfigError(
            f"config key 'run_dir': {folder} already holds a checkpoint. Continue it with "
            f"--resume {folder}, or choose another --out."
        )
    if folder.is_file():
        raise RunFolderError(
            f"--out {folder} is a file, not a folder. Choose a new folder for the run."
        )
    names = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
    names = [name for name in names if name != LOCK_NAME]  # a stale lock of ours
    if names and not is_our_run(folder):
        listed = ", ".join(names[:5])
        raise RunFolderError(
            f"--out {folder} is not empty ({listed}) and is not a training run of "
            "gan-regularizers; train writes config.toml, report.md, metrics.jsonl and plots "
            "there and would overwrite your files. Choose a new or empty folder."
        )


def record_launch(
    folder: Path, event: str, step: int, changed: Mapping[str, tuple[Any, Any]]
) -> None:
    """Append this launch to ``history.jsonl`` (a fresh start truncates it)."""
    line = {
        "event": event,
        "step": step,
        "time": datetime.now().isoformat(timespec="seconds"),
        "changed": {key: list(pair) for key, pair in changed.items()},
    }
    mode = "w" if event == "start" else "a"
    with open(folder / HISTORY_NAME, mode, encoding="utf-8") as handle:
        handle.write(json.dumps(line) + "\n")


def read_history(folder: Path) -> list[dict[str, Any]]:
    """Every launch recorded in ``folder/history.jsonl``."""
    path = Path(folder) / HISTORY_NAME
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
