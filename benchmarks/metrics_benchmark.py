"""Metrics benchmark: the package against torchmetrics and torch-fidelity, measured side by side.

Part 1, feature extraction + every metric in one space: the package's ``metrics.evaluate`` (fid,
kid, precision-recall, density-coverage in ``inception``, one network pass per image set) against
torchmetrics' ``FrechetInceptionDistance`` + ``KernelInceptionDistance`` and torch-fidelity's
``calculate_metrics(fid, kid, prc)``, on the same uint8 images and the same randomly initialised
torch-fidelity Inception-v3 weights (no download). KID uses one subset of all samples so every
tool computes the same number; values are compared (FD, KID: relative difference; precision and
recall: equal counts). Peers run interleaved, ``--repeats`` rounds; median seconds.

Part 2, the Fréchet step ``tr √(Σ₁Σ₂)`` at ``--dims`` (default 2048): the package's route (Cholesky
or symmetric root), its former symmetric-root route, scipy ``sqrtm``, torch-fidelity's
(``np.linalg.eigvals``) and torchmetrics' (``torch.linalg.eigvals``), interleaved, on two
covariances from ``n = 4d`` Gaussian samples, plus a rank-deficient pair (``n = d/4``) where the
package may also take the factor route from the features.

Usage: python benchmarks/metrics_benchmark.py [--images 128] [--dims 2048] [--repeats 3]
(torchmetrics: ``pip install torchmetrics``). Prints a markdown report; ``--out`` writes JSON.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import scipy.linalg
import torch
from former_routes import symmetric_root_trace as sqrtm_trace

from gan_regularizers import __version__, metrics
from gan_regularizers.metrics.frechet_trace import (
    trace_sqrt_product,
    trace_sqrt_product_from_features,
)


def random_inception_file(folder: Path) -> Path:
    """torch-fidelity's Inception-v3 with random weights (seed 0), saved as a weights file."""
    from torch_fidelity import feature_extractor_inceptionv3 as module

    original_load, original_fetch = (
        module.FeatureExtractorInceptionV3.load_state_dict,
        module.load_state_dict_from_url,
    )
    module.FeatureExtractorInceptionV3.load_state_dict = lambda self, *a, **k: None
    module.load_state_dict_from_url = lambda *a, **k: {}
    try:
        torch.manual_seed(0)
        extractor = module.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
        for layer in extractor.modules():  # He init: the default init gives ~constant features
            if isinstance(layer, (torch.nn.Conv2d, torch.nn.Linear)):
                torch.nn.init.kaiming_normal_(layer.weight)
    finally:
        module.FeatureExtractorInceptionV3.load_state_dict = original_load
        module.load_state_dict_from_url = original_fetch
    path = folder / "inception-random.pth"
    torch.save(extractor.state_dict(), path)
    return path


def uint8_images(count: int, size: int, seed: int, shift: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    base = torch.randint(0, 200, (count, 3, size, size), generator=generator)
    return (base + shift).clamp(0, 255).to(torch.uint8)


def timed_rounds(peers: dict[str, Callable[[], Any]], repeats: int) -> dict[str, dict[str, Any]]:
    """Each peer once per round, rounds interleaved; median seconds and the last value."""
    times: dict[str, list[float]] = {name: [] for name in peers}
    values: dict[str, Any] = {}
    for _ in range(repeats):
        for name, run in peers.items():
            start = time.perf_counter()
            values[name] = run()
            times[name].append(time.perf_counter() - start)
    return {n: {"seconds": statistics.median(t), "value": values[n]} for n, t in times.items()}


def package_peer(
    real: torch.Tensor, fake: torch.Tensor, weights: Path, intervals: bool = True
) -> Callable[[], Any]:
    n = len(real)
    options = f"weights={weights}"
    specs = [
        f"fid:{options}",
        f"kid:{options},subsets=1,subset_size={n}",
        f"precision-recall:{options}",
        f"density-coverage:{options}",
    ]

    def run() -> dict[str, float]:
        evaluation = metrics.evaluate(
            fake / 127.5 - 1,
            real / 127.5 - 1,
            specs,
            cache=False,
            batch_size=64,
            intervals=intervals,
        )
        return {name: r.value for name, r in evaluation.metrics.items()}

    return run


def torchmetrics_peer(real: torch.Tensor, fake: torch.Tensor, weights: Path) -> Callable[[], Any]:
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    class Features(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = FeatureExtractorInceptionV3(
                "inception-v3-compat", ["2048"], feature_extractor_weights_path=str(weights)
            )

        def forward(self, images: torch.Tensor) -> torch.Tensor:
            return self.net(images)[0]

    def run() -> dict[str, float]:
        features = Features().eval()
        fid = FrechetInceptionDistance(feature=features)
        kid = KernelInceptionDistance(feature=features, subsets=1, subset_size=len(real))
        for metric in (fid, kid):
            for batch in real.split(64):
                metric.update(batch, real=True)
            for batch in fake.split(64):
                metric.update(batch, real=False)
        return {"fid": float(fid.compute()), "kid": float(kid.compute()[0])}

    return run


def fidelity_peer(real: torch.Tensor, fake: torch.Tensor, weights: Path) -> Callable[[], Any]:
    import torch_fidelity

    class Images(torch.utils.data.Dataset):
        def __init__(self, images: torch.Tensor) -> None:
            self.images = images

        def __len__(self) -> int:
            return len(self.images)

        def __getitem__(self, index: int) -> torch.Tensor:
            return self.images[index]

    def run() -> dict[str, float]:
        out = torch_fidelity.calculate_metrics(
            input1=Images(fake),
            input2=Images(real),
            fid=True,
            kid=True,
            prc=True,
            cuda=False,
            feature_extractor="inception-v3-compat",
            feature_layer_fid="2048",
            feature_layer_kid="2048",
            feature_layer_prc="2048",
            feature_extractor_weights_path=str(weights),
            kid_subsets=1,
            kid_subset_size=len(real),
            batch_size=64,
            cache=False,
            verbose=False,
            samples_shuffle=False,
        )
        return {
            "fid": out["frechet_inception_distance"],
            "kid": out["kernel_inception_distance_mean"],
            "precision": out["precision"],
            "recall": out["recall"],
        }

    return run


def extraction_benchmark(count: int, size: int, repeats: int) -> dict[str, Any]:
    real, fake = uint8_images(count, size, 0, 0), uint8_images(count, size, 1, 2)
    with tempfile.TemporaryDirectory() as folder:
        weights = random_inception_file(Path(folder))
        peers = {
            "gan-regularizers": package_peer(real, fake, weights, intervals=False),
            "gan-regularizers with intervals": package_peer(real, fake, weights),
            "torchmetrics FID+KID": torchmetrics_peer(real, fake, weights),
            "torch-fidelity fid+kid+prc": fidelity_peer(real, fake, weights),
        }
        return timed_rounds(peers, repeats)


def covariance_from(samples: int, d: int, seed: int) -> tuple[np.ndarray, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    mix = torch.randn(d, d, generator=generator, dtype=torch.float64) / d**0.5
    features = torch.randn(samples, d, generator=generator, dtype=torch.float64) @ mix
    return np.cov(features.numpy().T), features


def frechet_peers(s1: np.ndarray, s2: np.ndarray) -> dict[str, Callable[[], float]]:
    from torchmetrics.image.fid import _compute_fid

    t1, t2 = torch.from_numpy(s1), torch.from_numpy(s2)
    zero = torch.zeros(len(s1), dtype=torch.float64)
    trace = float(np.trace(s1) + np.trace(s2))
    return {
        "gan-regularizers (Cholesky / range root)": lambda: float(trace_sqrt_product(t1, t2)),
        "gan-regularizers former symmetric root": lambda: float(sqrtm_trace(t1, t2)),
        "scipy sqrtm": lambda: float(np.trace(scipy.linalg.sqrtm(s1 @ s2).real)),
        "torch-fidelity (np eigvals)": lambda: float(
            np.sum(np.sqrt(np.linalg.eigvals(s1.dot(s2)).astype("complex128")).real)
        ),
        "torchmetrics (torch eigvals)": lambda: (
            (trace - float(_compute_fid(zero, t1, zero, t2))) / 2
        ),
    }


def frechet_benchmark(dims: list[int], repeats: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for d in dims:
        (s1, _), (s2, _) = covariance_from(4 * d, d, 0), covariance_from(4 * d, d, 1)
        out[f"d={d}, n=4d (full rank)"] = timed_rounds(frechet_peers(s1, s2), repeats)
        (s1, f1), (s2, f2) = covariance_from(d // 4, d, 2), covariance_from(d // 4, d, 3)
        peers = frechet_peers(s1, s2)
        peers["gan-regularizers factor route (features)"] = lambda f1=f1, f2=f2: float(
            trace_sqrt_product_from_features(f1, f2)
        )
        out[f"d={d}, n=d/4 (rank-deficient)"] = timed_rounds(peers, repeats)
    return out


def report(extraction: dict[str, Any], frechet: dict[str, Any], settings: dict[str, Any]) -> str:
    lines = [
        f"Protocol: {json.dumps(settings)}",
        "",
        "| extraction + metrics | seconds | ratio to package | values |",
        "|---|---|---|---|",
    ]
    base = extraction["gan-regularizers"]["seconds"] if extraction else 1.0
    for name, row in extraction.items():
        values = ", ".join(f"{k} {v:.6g}" for k, v in row["value"].items())
        lines.append(f"| {name} | {row['seconds']:.2f} | {row['seconds'] / base:.2f} | {values} |")
    for case, rows in frechet.items():
        reference = rows["scipy sqrtm"]["value"]
        fastest = min(r["seconds"] for n, r in rows.items() if not n.startswith("gan-"))
        lines += [
            "",
            f"| tr √(Σ₁Σ₂), {case} | seconds | ÷ fastest peer | rel. diff. to scipy |",
            "|---|---|---|---|",
        ]
        for name, row in rows.items():
            difference = abs(row["value"] - reference) / abs(reference)
            lines.append(
                f"| {name} | {row['seconds']:.3f} | {row['seconds'] / fastest:.2f} | "
                f"{difference:.1e} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=128, help="real and fake images each")
    parser.add_argument("--size", type=int, default=64, help="image side before Inception")
    parser.add_argument("--dims", type=int, nargs="+", default=[2048])
    parser.add_argument("--repeats", type=int, default=3, help="rounds of part 1")
    parser.add_argument("--frechet-repeats", type=int, default=3, help="rounds of part 2")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--parts", nargs="+", default=["extraction", "frechet"], choices=["extraction", "frechet"]
    )
    args = parser.parse_args()
    settings = {
        "images": args.images,
        "size": args.size,
        "dims": args.dims,
        "repeats": args.repeats,
        "frechet_repeats": args.frechet_repeats,
        "threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "gan-regularizers": __version__,
        "torch": torch.__version__,
        "weights": "random torch-fidelity Inception (seed 0)",
    }
    extraction, frechet = {}, {}
    if "extraction" in args.parts:
        extraction = extraction_benchmark(args.images, args.size, args.repeats)
    if "frechet" in args.parts:
        frechet = frechet_benchmark(args.dims, args.frechet_repeats)
    print(report(extraction, frechet, settings))
    if args.out:
        args.out.write_text(
            json.dumps(
                {"settings": settings, "extraction": extraction, "frechet": frechet},
                indent=2,
                default=str,
            )
        )


if __name__ == "__main__":
    main()
