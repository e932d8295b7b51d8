"""One writer at a time: a lock file that names its owner (pid, host, start time).

``hold_lock`` creates the lock file atomically (its content is written to a temporary file
that is then hard-linked into place, which fails when the lock exists), and deletes it on exit.
A lock whose owner no longer runs on this host (its pid is gone, or now belongs to a process
started later) is stale: it is taken over with a ``StaleLockWarning``. A lock held by a live
process, or by a process on another host (which cannot be checked from here), is refused with
``InUseError`` naming the owner and the lock file.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from gan_regularizers.errors import InUseError, StaleLockWarning


@dataclass(frozen=True)
class LockOwner:
    """Who holds a lock: process id, host name, when it took the lock and the process's start."""

    pid: int
    host: str
    started: str
    process_start: str | None = None

    @classmethod
    def me(cls) -> LockOwner:
        pid = os.getpid()
        now = datetime.now().isoformat(timespec="seconds")
        return cls(pid, socket.gethostname(), now, process_start_ticks(pid))

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}, since {self.started}"


def process_start_ticks(pid: int) -> str | None:
    """The start time of process ``pid`` in clock ticks since boot (Linux), or ``None``."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else None


def owner_alive(owner: LockOwner) -> bool | None:
    """Whether the owner still runs: ``None`` when it ran on another host (cannot be checked)."""
    if owner.host != socket.gethostname():
        return None
    try:
        os.kill(owner.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    ticks = process_start_ticks(owner.pid)  # differs when the pid was reused after a death
    return owner.process_start is None or ticks is None or ticks == owner.process_start


def read_owner(path: Path) -> LockOwner | None:
    """The owner recorded in a lock file, or ``None`` when it is unreadable or malformed."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return LockOwner(
            int(data["pid"]), str(data["host"]), str(data["started"]), data.get("process_start")
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _create(path: Path, owner: LockOwner) -> bool:
    """Create ``path`` holding ``owner``, atomically; ``False`` when it exists already."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump(asdict(owner), file)
        os.link(temporary, path)
        return True
    except FileExistsError:
        return False
    finally:
        Path(temporary).unlink(missing_ok=True)


def check_not_in_use(path: Path, *, what: str, advice: str) -> None:
    """Raise ``InUseError`` when ``path`` is a lock held by a live (or remote) process."""
    owner = read_owner(path) if path.is_file() else None
    if owner is not None and owner_alive(owner) is not False:
        raise _in_use(path, owner, what, advice)


def _in_use(path: Path, owner: LockOwner, what: str, advice: str) -> InUseError:
    remote = owner.host != socket.gethostname()
    check = (
        f"it cannot be checked from {socket.gethostname()} whether that process still runs"
        if remote
        else "that process still runs"
    )
    return InUseError(
        f"{what} is in use: another gan-regularizers process ({owner.describe()}) is writing to "
        f"it, and {check}. Two writers would interleave their files. {advice} If no such "
        f"process runs, delete the lock file {path} and try again."
    )


def acquire(path: Path, *, what: str, advice: str) -> LockOwner:
    """Take the lock at ``path`` for this process (taking over a stale one); return the owner.

    Raises:
        InUseError: a live process (or one on another host) holds it.
    """
    me = LockOwner.me()
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(3):
        if _create(path, me):
            return me
        owner = read_owner(path)
        if owner is not None and owner_alive(owner) is not False:
            raise _in_use(path, owner, what, advice)
        if read_owner(path) == owner:  # still the stale lock: nobody took it over meanwhile
            path.unlink(missing_ok=True)
            left = f"by {owner.describe()}" if owner else "with no readable owner"
            warnings.warn(
                f"{what}: took over a stale lock left {left}, a process that no longer runs "
                f"({path}). Its files may be incomplete; a checkpoint it wrote is intact.",
                StaleLockWarning,
                stacklevel=4,
            )
    raise InUseError(f"{what}: could not take the lock {path}; another process keeps taking it.")


def release(path: Path, owner: LockOwner) -> None:
    """Delete the lock at ``path`` when ``owner`` still holds it."""
    if read_owner(path) == owner:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def hold_lock(path: str | os.PathLike[str], *, what: str, advice: str) -> Iterator[LockOwner]:
    """Hold the lock at ``path`` for the block (see ``acquire``)."""
    lock = Path(path)
    owner = acquire(lock, what=what, advice=advice)
    try:
        yield owner
    finally:
        release(lock, owner)
