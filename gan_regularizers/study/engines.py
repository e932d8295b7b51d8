"""Where runs execute: ``local`` (worker processes on this machine) or ``ray`` (Ray tasks on a
local Ray or an existing cluster). Both call ``execute`` on the same plain-data task, with
the run's own torch threads, so they give the same numbers on CPU."""

from __future__ import annotations

import concurrent.futures as futures
import multiprocessing
import time
from collections.abc import Iterable
from typing import Any, Protocol

from gan_regularizers.errors import MissingExtraError, StudyError
from gan_regularizers.study.execute import execute

ENGINES = ("local", "ray")


class Engine(Protocol):
    """Submit tasks, wait for any to finish, shut down."""

    def submit(self, task: dict[str, Any]) -> Any: ...

    def wait(self, handles: Iterable[Any]) -> list[tuple[Any, dict[str, Any]]]: ...

    def close(self) -> None: ...


class _Done:
    """The handle of a task run in this process (``--jobs 1``)."""

    def __init__(self, outcome: dict[str, Any]) -> None:
        self.outcome = outcome


class LocalEngine:
    """``jobs`` worker processes (spawned); with one job, runs in this process (no start-up)."""

    def __init__(self, jobs: int) -> None:
        self.pool = None
        if jobs > 1:
            context = multiprocessing.get_context("spawn")
            self.pool = futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context)

    def submit(self, task: dict[str, Any]) -> Any:
        return _Done(execute(task)) if self.pool is None else self.pool.submit(execute, task)

    def wait(self, handles: Iterable[Any]) -> list[tuple[Any, dict[str, Any]]]:
        handles = list(handles)
        done = [h for h in handles if isinstance(h, _Done)]
        if done:
            return [(h, h.outcome) for h in done]
        finished, _ = futures.wait(handles, return_when=futures.FIRST_COMPLETED)
        return [(h, h.result()) for h in finished]

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)


class RayEngine:
    """Each run a Ray task with the study's ``num_cpus``/``num_gpus``.

    ``address``: an existing cluster (``ray://host:10001`` or ``auto``); without one a local Ray
    starts with ``jobs`` CPUs. On a cluster of several machines ``--out`` must be on a file
    system every node sees (the run folders are written where a task runs).
    """

    def __init__(self, jobs: int, address: str | None, num_cpus: float, num_gpus: float) -> None:
        try:
            import ray
        except ImportError as error:
            raise MissingExtraError("ray", "ray", "the ray engine of `study run`") from error
        self.ray = ray
        self.started = time.perf_counter()
        if not ray.is_initialized():
            options: dict[str, Any] = {"address": address} if address else {"num_cpus": jobs}
            ray.init(
                **options, include_dashboard=False, log_to_driver=False, configure_logging=False
            )
        self.startup_seconds = time.perf_counter() - self.started
        self.remote = ray.remote(num_cpus=num_cpus, num_gpus=num_gpus, max_retries=0)(execute)

    def submit(self, task: dict[str, Any]) -> Any:
        return self.remote.remote(task)

    def wait(self, handles: Iterable[Any]) -> list[tuple[Any, dict[str, Any]]]:
        ready, _ = self.ray.wait(list(handles), num_returns=1)
        return [(h, self.ray.get(h)) for h in ready]

    def close(self) -> None:
        self.ray.shutdown()


def make_engine(
    name: str, jobs: int, address: str | None = None, num_cpus: float = 1, num_gpus: float = 0
) -> Engine:
    """The engine called ``name`` (``local`` or ``ray``)."""
    if name == "local":
        if address:
            raise StudyError("--ray-address needs --engine ray.")
        return LocalEngine(jobs)
    if name == "ray":
        return RayEngine(jobs, address, num_cpus, num_gpus)
    raise StudyError(f"unknown engine {name!r}; choose from {', '.join(ENGINES)}.")
