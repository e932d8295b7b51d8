"""Run the installed command in a real process, as a user would (``python -m gan_regularizers``)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping


def run_command(
    *argv: str, env: Mapping[str, str] | None = None, preexec_fn: object = None
) -> tuple[int, list[str], str]:
    """``(exit status, stderr lines that are not one-line warnings, whole stderr)``."""
    done = subprocess.run(
        [sys.executable, "-m", "gan_regularizers", *argv],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
        preexec_fn=preexec_fn,  # type: ignore[arg-type]
    )
    errors = [line for line in done.stderr.splitlines() if ": warning: " not in line]
    return done.returncode, errors, done.stderr
