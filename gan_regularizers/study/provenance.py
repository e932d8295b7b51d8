"""Where a result comes from: the code (version, git commit, dirty tree), the libraries and the
machine. Numbers are bitwise reproducible on one machine and reproducible within seed noise
across machines, so runs from different code or machines are never paired silently."""

from __future__ import annotations

import functools
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

LIBRARIES = ("torch", "torchvision", "numpy", "scipy", "timm", "open_clip_torch", "ray")


@functools.cache
def code() -> dict[str, Any]:
    """Package version, and the git commit and dirty flag of the source tree it runs from."""
    from gan_regularizers import __version__

    root = Path(__file__).resolve().parents[2]
    commit, dirty = None, None
    try:
        commit = _git(root, "rev-parse", "HEAD")
        dirty = bool(_git(root, "status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.CalledProcessError):
        pass  # an installed package, not a checkout
    return {"version": __version__, "commit": commit, "dirty": dirty}


def _git(root: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=True, timeout=30
    )
    return result.stdout.strip()


@functools.cache
def libraries() -> dict[str, str]:
    """Python and the installed versions of the libraries that change numbers."""
    out = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, ``platform.processor()`` elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(device: str = "cpu", threads: int = 0) -> dict[str, Any]:
    """The machine a run ran on: CPU model, torch's CPU capability, GPU name, torch threads
    (``threads``; 0: torch's default here)."""
    import torch

    out: dict[str, Any] = {
        "cpu": cpu_model(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "threads": threads or torch.get_num_threads(),
        "host_architecture": platform.machine(),
    }
    if device != "cpu" and torch.cuda.is_available():
        out["gpu"] = torch.cuda.get_device_name()
    return out


def provenance(device: str = "cpu", threads: int = 0) -> dict[str, Any]:
    """Code, libraries and machine, as recorded beside every result."""
    return {"code": code(), "libraries": libraries(), "machine": machine(device, threads)}


def same_origin(first: dict[str, Any] | None, second: dict[str, Any] | None) -> bool:
    """Whether two runs come from the same code (commit, clean) and the same machine."""
    if not first or not second:
        return False
    code_fields, machine_fields = ("commit", "dirty"), ("cpu", "cpu_capability", "gpu")
    same_code = all(first["code"].get(k) == second["code"].get(k) for k in code_fields)
    machines = first.get("machine") or {}, second.get("machine") or {}
    same_machine = machines[0] and all(
        machines[0].get(k) == machines[1].get(k) for k in machine_fields
    )
    return bool(same_code and same_machine)
