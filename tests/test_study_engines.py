"""Both engines (local worker processes, Ray tasks) give the same per-run numbers on CPU."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from study_helpers import write_study

pytest.importorskip("scipy")
from gan_regularizers import study


def _metrics(out: Path) -> dict:
    runs = json.loads((out / "results.json").read_text())["runs"]
    return {(r["setup"], r["seed"], r["steps"]): r["metrics"] for r in runs}


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """The tiny study (no control) in this process (``--jobs 1``)."""
    folder = tmp_path_factory.mktemp("local")
    path = write_study(folder, controls=False)
    study.run(path, folder / "out", progress=False)
    return path, _metrics(folder / "out")


@pytest.mark.slow
def test_worker_processes_give_the_numbers_of_one_process(
    local: tuple[Path, dict], tmp_path: Path
) -> None:
    path, expected = local
    summary = study.run(path, tmp_path / "out", jobs=2, progress=False)
    assert summary["trained"] == 4
    assert _metrics(tmp_path / "out") == expected  # bit-identical


def _ray() -> None:
    if os.environ.get("CI"):
        import ray  # noqa: F401 - in CI the extra is installed: a missing Ray is a failure
    else:
        pytest.importorskip("ray", reason="the [ray] extra is not installed")


@pytest.mark.slow
def test_a_local_ray_with_two_cpus_gives_the_same_numbers(
    local: tuple[Path, dict], tmp_path: Path
) -> None:
    _ray()
    path, expected = local
    summary = study.run(path, tmp_path / "out", jobs=2, engine="ray", progress=False)
    assert summary["trained"] == 4 and summary["failed"] == 0
    assert summary["startup_seconds"] > 0
    assert _metrics(tmp_path / "out") == expected  # bit-identical
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["engine"]["engine"] == "ray"
