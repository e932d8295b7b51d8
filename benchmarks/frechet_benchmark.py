"""Fréchet trace step: the symmetric route against scipy sqrtm and torch.linalg.eigvals.

For each d, two random well-conditioned covariances (condition number 10) are built once; each
method computes tr √(Σ₁Σ₂) in float64. Reported: median seconds of ``--repeats`` runs, the ratio
to scipy's time measured in the same run, and the relative difference from scipy's value.

Usage: python benchmarks/frechet_benchmark.py [--dims 64 768 2048] [--repeats 3] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np
import scipy
import scipy.linalg
import torch
from former_routes import symmetric_root_trace as sqrtm_trace

from gan_regularizers import __version__


def covariance(d: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    return (q * np.geomspace(1.0, 0.1, d)) @ q.T


def scipy_trace(s1: np.ndarray, s2: np.ndarray) -> float:
    root = scipy.linalg.sqrtm(s1 @ s2)
    return float(np.trace(root.real if np.iscomplexobj(root) else root))


def eigvals_trace(s1: np.ndarray, s2: np.ndarray) -> float:
    values = torch.linalg.eigvals(torch.from_numpy(s1) @ torch.from_numpy(s2))
    return float(values.real.clamp(min=0).sqrt().sum())


def symmetric_trace(s1: np.ndarray, s2: np.ndarray) -> float:
    return float(sqrtm_trace(torch.from_numpy(s1), torch.from_numpy(s2)))


def timed(function: Callable[[], float], repeats: int) -> tuple[float, float]:
    value = function()  # warm-up, and the value
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dims", type=int, nargs="+", default=[64, 768, 2048])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    rows = []
    for d in args.dims:
        s1, s2 = covariance(d, 1), covariance(d, 2)
        scipy_s, reference = timed(lambda s1=s1, s2=s2: scipy_trace(s1, s2), args.repeats)
        row = {"d": d, "scipy_sqrtm_s": scipy_s}
        for name, method in (("symmetric_eigh", symmetric_trace), ("torch_eigvals", eigvals_trace)):
            seconds, value = timed(lambda m=method, s1=s1, s2=s2: m(s1, s2), args.repeats)
            row[f"{name}_s"] = seconds
            row[f"{name}_over_scipy"] = seconds / scipy_s
            row[f"{name}_relative_error"] = abs(value - reference) / abs(reference)
        rows.append(row)
        print(json.dumps(row), flush=True)
    report = {
        "protocol": {
            "dtype": "float64",
            "timing": f"median of {args.repeats} after one warm-up",
            "threads": torch.get_num_threads(),
            "machine": platform.machine(),
            "torch": torch.__version__,
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "gan_regularizers": __version__,
        },
        "results": rows,
    }
    if args.out:
        with open(args.out, "w") as file:
            json.dump(report, file, indent=2)


if __name__ == "__main__":
    main()
