"""One run folder, one writer; one ``fit --out``, one writer (issue 23).

Two ``train`` into one folder, or a ``--resume`` while the first still ran, both exited 0 and
interleaved curves, checkpoints and history. The folder (and ``fit``'s output file) is now locked
by a file naming the owner's pid, host and start; a lock whose owner died is taken over with a
warning.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from installed_command import run_command
from tiny_runs import TINY

from gan_regularizers import train
from gan_regularizers.errors import InUseError, StaleLockWarning
from gan_regularizers.files.lock import process_start_ticks
from gan_regularizers.training.run_folder import LOCK_NAME


@pytest.fixture
def run(tmp_path: Path) -> Path:
    folder = tmp_path / "run"
    train(**TINY, steps=1, run_dir=str(folder))
    assert not (folder / LOCK_NAME).exists()  # released when train returns
    return folder


def _fake_lock(path: Path, pid: int, host: str | None = None, start: str | None = None) -> None:
    owner = {
        "pid": pid,
        "host": host or socket.gethostname(),
        "started": "2026-01-01T00:00:00",
        "process_start": start if start is not None else process_start_ticks(pid),
    }
    path.write_text(json.dumps(owner), encoding="utf-8")


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


@pytest.mark.parametrize("second", ["train", "resume"])
def test_a_second_writer_is_refused_while_the_first_runs(run: Path, second: str) -> None:
    live = os.getppid()  # pytest's parent: alive, on this host
    _fake_lock(run / LOCK_NAME, live)
    before = _snapshot(run)
    with pytest.raises(InUseError) as caught:
        if second == "train":
            train(**TINY, steps=1, run_dir=str(run))
        else:
            train(resume=run, steps=2)
    message = str(caught.value)
    assert f"the run folder {run} is in use" in message
    assert f"pid {live} on {socket.gethostname()}" in message and "still runs" in message
    assert f"delete the lock file {run / LOCK_NAME}" in message
    assert _snapshot(run) == before  # nothing written, not even the history


def test_a_lock_held_by_another_process_refuses_the_installed_command(run: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; "
            "from gan_regularizers.files.lock import hold_lock\n"
            "with hold_lock(Path(sys.argv[1]), what='x', advice='y'):\n"
            "    print('held', flush=True); time.sleep(300)",
            str(run / LOCK_NAME),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        code, errors, stderr = run_command("train", "--resume", str(run), "--steps", "2")
        assert code == 1 and len(errors) == 1, stderr
        assert errors[0].startswith(f"gan-regularizers train: error: the run folder {run} is in")
        assert f"pid {holder.pid}" in errors[0]
    finally:
        holder.kill()  # SIGKILL: the lock file stays behind, stale
        holder.wait()
    assert (run / LOCK_NAME).exists()
    with pytest.warns(StaleLockWarning, match=rf"took over a stale lock left by pid {holder.pid}"):
        assert train(resume=run, steps=2).step == 2
    assert not (run / LOCK_NAME).exists()


def test_a_reused_pid_does_not_keep_a_stale_lock(run: Path) -> None:
    _fake_lock(run / LOCK_NAME, os.getppid(), start="1")  # that pid started at another time
    if process_start_ticks(os.getppid()) is None:
        pytest.skip("no /proc: process start times are not readable here")
    with pytest.warns(StaleLockWarning):
        assert train(resume=run, steps=2).step == 2


def test_a_lock_from_another_host_is_refused_with_what_to_do(run: Path) -> None:
    _fake_lock(run / LOCK_NAME, 1, host="another-machine")
    with pytest.raises(InUseError, match=r"cannot be checked from .* whether that process"):
        train(resume=run, steps=2)


def test_a_second_fit_to_the_same_out_is_refused(tmp_path: Path) -> None:
    _fake_lock(tmp_path / ".stats.pt.lock", os.getppid())
    out = str(tmp_path / "stats.pt")
    code, errors, stderr = run_command(
        *("fit", "--feature-space", "mnist-features", "--out", out, "--quiet"),
        env={"GAN_REGULARIZERS_CACHE": str(tmp_path / "cache")},
    )
    assert code == 1 and len(errors) == 1, stderr
    assert f"gan-regularizers fit: error: --out {tmp_path / 'stats.pt'} is in use" in errors[0]
    assert "choose another --out" in errors[0]
    assert not (tmp_path / "stats.pt").exists()
