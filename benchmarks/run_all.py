"""Run every benchmark and write benchmarks/results/benchmarks.{json,md}.

Each figure is a ratio of timings taken side by side in this one run, on the same inputs, with
one torch thread (the machines here have 2 shared cores): the absolute seconds move with the
machine's load, the ratios much less. Sizes are small so that the whole run takes about ten
minutes on a 2-core CPU; every size is recorded in the JSON.

1. Centroid overhead per generator step (vgg16, random weights, 64×64): float32, bfloat16
   (autocast) and a channels_last generator; weight 0, every step, lazy every=4 and every=16.
2. ``fit`` throughput over raw backbone inference (two-pass and one-pass), peak RSS at N and 4N.
3. The Fréchet trace step against scipy ``sqrtm`` and ``torch.linalg.eigvals`` (reuses
   benchmarks/results/frechet.json when present, otherwise runs a small version).
4. FID feature extraction: images/s of gan-regularizers, torch-fidelity and torchmetrics with the
   same randomly initialised Inception weights, and the agreement of their FID values.
5. LPIPS diversity: pairs/s of ``lpips_diversity`` against a plain per-pair loop over ``lpips``
   (the same randomly initialised trunk in both: timings only, not LPIPS values).
6. Start-up: ``import gan_regularizers`` and ``gan-regularizers plugins`` over ``import torch``.

Usage: python benchmarks/run_all.py [--quick] [--only centroid fid ...]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))

import centroid_benchmark  # noqa: E402

SECTIONS = ("centroid", "fit", "frechet", "fid", "lpips", "startup")


def environment() -> dict[str, Any]:
    versions = {}
    for name in (
        "gan-regularizers",
        "torch",
        "torchvision",
        "numpy",
        "scipy",
        "lpips",
        "torch-fidelity",
        "torchmetrics",
    ):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "machine": cpu,
        "cpu_count": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "device": "cpu",
        "versions": versions,
    }


def centroid_args(**overrides: Any) -> argparse.Namespace:
    defaults = {
        "feature_space": "vgg16",
        "size": 64,
        "channels": 3,
        "batch": 8,
        "repeats": 5,
        "fit_batches": 8,
        "memory_images": 64,
        "dtype": "float32",
        "channels_last": False,
        "threads": 1,
    }
    defaults.update(overrides)
    return argparse.Namespace(**defaults)


def bench_centroid(quick: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"sizes": {}}
    variants = {
        "float32": {},
        "bfloat16": {"dtype": "bfloat16"},
        "float32_channels_last_generator": {"channels_last": True},
    }
    for label, overrides in variants.items():
        args = centroid_args(repeats=3 if quick else 9, **overrides)
        out["sizes"] = {
            "feature_space": "vgg16 (layer 16, pretrained=False)",
            "image_size": 64,
            "batch": args.batch,
            "repeats": args.repeats,
        }
        start = time.perf_counter()
        out[label] = centroid_benchmark.measure_step_overhead(args)
        out[label]["wall_s"] = time.perf_counter() - start
        print(f"centroid {label}: {json.dumps(out[label])}", flush=True)
    return out


def bench_fit(quick: bool) -> dict[str, Any]:
    args = centroid_args(fit_batches=4 if quick else 8, memory_images=32 if quick else 64)
    throughput = centroid_benchmark.measure_fit_throughput(args)
    memory = centroid_benchmark.measure_peak_memory(args)
    result = {
        "sizes": {
            "batch": args.batch,
            "fit_images": args.batch * args.fit_batches,
            "memory_images_N": args.memory_images,
        },
        "throughput": throughput,
        "peak_memory": memory,
    }
    print(f"fit: {json.dumps(result)}", flush=True)
    return result


def bench_frechet(quick: bool) -> dict[str, Any]:
    existing = RESULTS / "frechet.json"
    if existing.is_file():
        return {
            "source": str(existing.relative_to(HERE.parent)),
            **json.loads(existing.read_text()),
        }
    out = Path(tempfile.gettempdir()) / "frechet-small.json"
    dims = ["64", "768"]  # 2048 takes minutes with scipy on this machine: see frechet.json
    subprocess.run(
        [
            sys.executable,
            str(HERE / "frechet_benchmark.py"),
            "--dims",
            *dims,
            "--repeats",
            "1",
            "--out",
            str(out),
        ],
        check=True,
    )
    return {
        "source": "frechet_benchmark.py run by run_all.py (repeats 1)",
        **json.loads(out.read_text()),
    }


def _random_inception_weights() -> Path:
    """A state dict of torch-fidelity's Inception with PyTorch's default random init (seed 0)."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    path = Path(tempfile.gettempdir()) / "inception-random-he-seed0.pth"
    if path.is_file():
        return path
    original = FeatureExtractorInceptionV3.load_state_dict
    FeatureExtractorInceptionV3.load_state_dict = lambda self, state, *a, **k: None  # type: ignore[method-assign]
    try:
        torch.manual_seed(0)
        model = _build_without_weights(FeatureExtractorInceptionV3)
        # PyTorch's default conv init shrinks the signal ~100 layers deep to ~1e-8: use He
        # init so that the random features are O(1) and the FID values are meaningful numbers.
        for module in model.modules():
            if isinstance(module, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    finally:
        FeatureExtractorInceptionV3.load_state_dict = original  # type: ignore[method-assign]
    torch.save(model.state_dict(), path)
    return path


def _build_without_weights(cls: Any) -> Any:
    # torch-fidelity loads its weights at the end of __init__ (torch.load of the given path);
    # with load_state_dict patched out, any readable file works: hand it an empty state dict.
    empty = Path(tempfile.gettempdir()) / "empty-state.pth"
    torch.save({}, empty)
    return cls("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(empty))


def bench_fid(quick: bool) -> dict[str, Any]:
    import numpy as np
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric

    from gan_regularizers.features.moments import FeatureMoments
    from gan_regularizers.metrics.frechet_trace import frechet_from_moments as frechet_distance
    from gan_regularizers.plugin_system.registry import get_feature_space

    n, size, batch = (16, 64, 16) if quick else (32, 64, 16)
    weights = _random_inception_weights()
    generator = torch.Generator().manual_seed(0)
    # Two image sets that differ (structured + noise), stored as uint8 so every library sees
    # exactly the same pixels (no quantisation differences).
    base = torch.rand(1, 3, size, size, generator=generator)
    real_u8 = (
        ((base + 0.5 * torch.rand(n, 3, size, size, generator=generator)) / 1.5 * 255)
        .round()
        .to(torch.uint8)
    )
    fake_u8 = (torch.rand(n, 3, size, size, generator=generator) * 255).round().to(torch.uint8)
    to_float = lambda x: x.float() / 127.5 - 1  # noqa: E731  exact inverse of round-and-clamp

    results: dict[str, Any] = {
        "sizes": {"n_real": n, "n_fake": n, "image_size": size, "batch": batch},
        "weights": "torch-fidelity inception-v3-compat, random He-normal init (seed 0), one file shared by all three",  # noqa: E501
    }

    # gan-regularizers: the 'inception' feature space + float64 streaming moments + symmetric FD.
    ours = get_feature_space("inception", weights=str(weights))

    def ours_stats(images: torch.Tensor) -> Any:
        moments = FeatureMoments()
        with torch.inference_mode():
            for chunk in images.split(batch):
                moments.update(ours(to_float(chunk)))
        return moments.statistics()

    ours(to_float(real_u8[:2]))  # warm-up
    start = time.perf_counter()
    s_real, s_fake = ours_stats(real_u8), ours_stats(fake_u8)
    ours_extract = time.perf_counter() - start
    start = time.perf_counter()
    ours_value = float(
        frechet_distance(s_real.mean, s_real.covariance, s_fake.mean, s_fake.covariance)
    )
    ours_fd = time.perf_counter() - start

    # torch-fidelity: its extractor on uint8 batches + its statistics and FID.
    extractor = FeatureExtractorInceptionV3(
        "inception-v3-compat", ["2048"], feature_extractor_weights_path=str(weights)
    )
    extractor.eval()

    def fidelity_features(images: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return torch.cat([extractor(chunk)[0].double() for chunk in images.split(batch)])

    fidelity_features(real_u8[:2])
    start = time.perf_counter()
    f_real, f_fake = fidelity_features(real_u8), fidelity_features(fake_u8)
    fidelity_extract = time.perf_counter() - start
    start = time.perf_counter()
    fidelity_value = fid_statistics_to_metric(
        fid_features_to_statistics(f_real), fid_features_to_statistics(f_fake), verbose=False
    )["frechet_inception_distance"]
    fidelity_fd = time.perf_counter() - start

    row: dict[str, Any] = {
        "gan_regularizers": {
            "extract_images_per_s": 2 * n / ours_extract,
            "fd_s": ours_fd,
            "fid": ours_value,
        },
        "torch_fidelity": {
            "extract_images_per_s": 2 * n / fidelity_extract,
            "fd_s": fidelity_fd,
            "fid": float(fidelity_value),
        },
    }
    try:
        from torchmetrics.image.fid import FrechetInceptionDistance

        metric = FrechetInceptionDistance(
            feature=2048, feature_extractor_weights_path=str(weights), antialias=False
        )
        metric.update(real_u8[:2], real=True)
        metric.reset()
        start = time.perf_counter()
        for chunk in real_u8.split(batch):
            metric.update(chunk, real=True)
        for chunk in fake_u8.split(batch):
            metric.update(chunk, real=False)
        tm_extract = time.perf_counter() - start
        start = time.perf_counter()
        tm_value = float(metric.compute())
        row["torchmetrics"] = {
            "extract_images_per_s": 2 * n / tm_extract,
            "fd_s": time.perf_counter() - start,
            "fid": tm_value,
            "options": "feature=2048, antialias=False (TF-compatible resize), uint8 input",
        }
    except Exception as error:  # reported in the results, not hidden
        row["torchmetrics"] = {"error": f"{type(error).__name__}: {error}"}
    reference = ours_value
    for values in row.values():
        if isinstance(values, dict) and "fid" in values:
            values["relative_difference_from_gan_regularizers"] = abs(
                values["fid"] - reference
            ) / abs(reference)
            values["extract_over_torch_fidelity"] = (
                values["extract_images_per_s"] / row["torch_fidelity"]["extract_images_per_s"]
            )
    with torch.inference_mode():
        ours_real = torch.cat([ours(to_float(c)) for c in real_u8.split(batch)]).double()
    row["max_abs_feature_difference_ours_vs_torch_fidelity"] = float(
        (ours_real - f_real).abs().max()
    )
    row["feature_scale"] = float(f_real.abs().mean())
    results["results"] = row
    results["note"] = (
        f"n = {n} < 2048 features: both covariances are rank-deficient (numpy {np.__version__})."
    )
    print(f"fid: {json.dumps(row)}", flush=True)
    return results


def bench_lpips(quick: bool) -> dict[str, Any]:
    import warnings

    from gan_regularizers.metrics.lpips_diversity import build_lpips, lpips_diversity, sample_pairs

    pairs, size = (100, 64) if quick else (200, 64)
    images = (
        torch.rand(2 * pairs, 3, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = build_lpips(pretrained=False)
    first, second = sample_pairs(images.shape[0], pairs, 0)

    def plain_loop() -> float:
        total = 0.0
        with torch.no_grad():
            for i, j in zip(first.tolist(), second.tolist(), strict=True):
                total += float(model(images[i : i + 1], images[j : j + 1]))
        return total / pairs

    def ours() -> float:
        return lpips_diversity(images, pairs=pairs, seed=0, model=model).mean

    plain_value, ours_value = plain_loop(), ours()  # warm-up and values
    plain_s = centroid_benchmark.median_time(plain_loop, 3, warmup=0)
    ours_s = centroid_benchmark.median_time(ours, 3, warmup=0)
    result = {
        "sizes": {"pairs": pairs, "image_size": size, "batch_size": 50},
        "trunk": "lpips AlexNet, random initialisation (timing only; values are not LPIPS)",
        "plain_loop_pairs_per_s": pairs / plain_s,
        "lpips_diversity_pairs_per_s": pairs / ours_s,
        "speedup_over_plain_loop": plain_s / ours_s,
        "relative_difference_of_means": abs(plain_value - ours_value) / abs(plain_value),
        "timing": "median of 3 after one warm-up; lpips_diversity includes its 1000-resample bootstrap",  # noqa: E501
    }
    print(f"lpips: {json.dumps(result)}", flush=True)
    return result


def bench_startup(quick: bool) -> dict[str, Any]:
    repeats = 3 if quick else 5
    cli = str(Path(sys.executable).parent / "gan-regularizers")
    commands = {
        "import torch": [sys.executable, "-c", "import torch"],
        "import gan_regularizers": [sys.executable, "-c", "import gan_regularizers"],
        "gan-regularizers plugins": [cli, "plugins"],
        "python -c pass": [sys.executable, "-c", "pass"],
    }
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeats):  # interleaved, so load changes hit every command alike
        for name, command in commands.items():
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True, env=env)
            times[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(values) for name, values in times.items()}
    result = {
        "repeats": repeats,
        "median_s": medians,
        "import_over_import_torch": medians["import gan_regularizers"] / medians["import torch"],
        "plugins_over_import_torch": medians["gan-regularizers plugins"] / medians["import torch"],
        "timing": f"wall time of a fresh subprocess, median of {repeats}, commands interleaved",
    }
    print(f"startup: {json.dumps(result)}", flush=True)
    return result


def markdown(report: dict[str, Any]) -> str:
    env = report["environment"]
    lines = [
        "# Benchmark results",
        "",
        f"Machine: {env['machine']}, {env['cpu_count']} cores (shared), 1 torch thread, CPU, "
        f"load average at start {', '.join(f'{x:.1f}' for x in env['load_average_at_start'])}.",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in env["versions"].items()) + ".",
        f"Run: {report['started']}, {report['wall_s']:.0f} s.",
        "",
    ]
    c = report.get("centroid")
    if c:
        lines += [
            "## 1. Centroid overhead per generator step",
            "",
            f"vgg16 (layer 16, random weights), {c['sizes']['image_size']}×{c['sizes']['image_size']}, "  # noqa: E501
            f"batch {c['sizes']['batch']}. Overhead = (step with penalty − step without) / "
            "(backbone forward+backward). Target: ≤ 1.10 every step, ≈ 0 at weight 0.",
            "",
            "| variant | backbone fwd+bwd (s) | plain step (s) | weight 0 | every step | lazy every=4 | lazy every=16 |",  # noqa: E501
            "|---|---|---|---|---|---|---|",
        ]
        for label in ("float32", "bfloat16", "float32_channels_last_generator"):
            v = c[label]
            lines.append(
                f"| {label} | {v['backbone_forward_backward_s']:.3f} | {v['plain_step_s']:.3f} | "
                + " | ".join(
                    f"{v[k]['overhead_over_backbone']:.3f}"
                    for k in ("weight_0", "every_step", "lazy_every_4", "lazy_every_16")
                )
                + " |"
            )
        lines.append("")
    f = report.get("fit")
    if f:
        t, m = f["throughput"], f["peak_memory"]
        lines += [
            "## 2. `fit` throughput and peak memory",
            "",
            f"{t['images']} images, batch {f['sizes']['batch']}; raw backbone inference "
            f"{t['raw_inference_images_per_s']:.1f} images/s.",
            "",
            "| mode | images/s | fit throughput / raw inference | target |",
            "|---|---|---|---|",
            f"| two-pass (exact, memory_budget=0) | {t['two_pass']['images_per_s']:.1f} | {t['two_pass']['throughput_over_raw_inference']:.3f} | ≥ 0.45 |",  # noqa: E501
            f"| one-pass (features kept) | {t['one_pass']['images_per_s']:.1f} | {t['one_pass']['throughput_over_raw_inference']:.3f} | ≥ 0.9 |",  # noqa: E501
            "",
            "Peak RSS of a two-pass fit in a fresh process: "
            + ", ".join(f"N={k}: {v / 2**20:.0f} MiB" for k, v in m["peak_rss_bytes"].items())
            + f"; ratio 4N/N = {m['ratio_4N_over_N']:.3f}.",
            "",
        ]
    fr = report.get("frechet")
    if fr:
        lines += [
            "## 3. Fréchet trace step (float64)",
            "",
            f"Source: {fr['source']}.",
            "",
            "| d | scipy sqrtm (s) | symmetric eigh (s) | ratio to scipy | rel. error | torch eigvals (s) | ratio | rel. error |",  # noqa: E501
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in fr["results"]:
            lines.append(
                f"| {r['d']} | {r['scipy_sqrtm_s']:.4g} | {r['symmetric_eigh_s']:.4g} | "
                f"{r['symmetric_eigh_over_scipy']:.3f} | {r['symmetric_eigh_relative_error']:.1e} | "  # noqa: E501
                f"{r['torch_eigvals_s']:.4g} | {r['torch_eigvals_over_scipy']:.3f} | "
                f"{r['torch_eigvals_relative_error']:.1e} |"
            )
        lines.append("")
    fid = report.get("fid")
    if fid:
        s = fid["sizes"]
        lines += [
            "## 4. FID feature extraction",
            "",
            f"{s['n_real']} + {s['n_fake']} images {s['image_size']}×{s['image_size']} (uint8), batch {s['batch']}; "  # noqa: E501
            f"{fid['weights']}.",
            "",
            "| library | images/s | / torch-fidelity | FID | relative difference |",
            "|---|---|---|---|---|",
        ]
        for name in ("gan_regularizers", "torch_fidelity", "torchmetrics"):
            v = fid["results"].get(name, {})
            if "error" in v:
                lines.append(f"| {name} | not measured: {v['error']} | | | |")
            elif v:
                lines.append(
                    f"| {name} | {v['extract_images_per_s']:.2f} | {v['extract_over_torch_fidelity']:.3f} | "  # noqa: E501
                    f"{v['fid']:.6g} | {v['relative_difference_from_gan_regularizers']:.1e} |"
                )
        lines += [
            "",
            f"Largest feature difference, ours vs torch-fidelity: "
            f"{fid['results']['max_abs_feature_difference_ours_vs_torch_fidelity']:.2e} "
            f"(mean |feature| {fid['results']['feature_scale']:.3g}).",
            "",
        ]
    lp = report.get("lpips")
    if lp:
        lines += [
            "## 5. LPIPS diversity",
            "",
            f"{lp['sizes']['pairs']} pairs of {lp['sizes']['image_size']}×{lp['sizes']['image_size']} images; {lp['trunk']}.",  # noqa: E501
            "",
            "| method | pairs/s |",
            "|---|---|",
            f"| plain loop over `lpips` (one pair per call) | {lp['plain_loop_pairs_per_s']:.1f} |",
            f"| `lpips_diversity` (batch 50, with bootstrap) | {lp['lpips_diversity_pairs_per_s']:.1f} |",  # noqa: E501
            "",
            f"Speed-up {lp['speedup_over_plain_loop']:.2f}×; the two means differ by "
            f"{lp['relative_difference_of_means']:.1e} relative.",
            "",
        ]
    st = report.get("startup")
    if st:
        lines += ["## 6. Start-up time", "", "| command | median (s) |", "|---|---|"]
        lines += [f"| `{k}` | {v:.3f} |" for k, v in st["median_s"].items()]
        lines += [
            "",
            f"`import gan_regularizers` / `import torch` = {st['import_over_import_torch']:.3f}; "
            f"`gan-regularizers plugins` / `import torch` = {st['plugins_over_import_torch']:.3f} "
            f"({st['timing']}).",
            "",
        ]
    return "\n".join(lines)


def plot(report: dict[str, Any], path: Path) -> None:
    """Bar chart of the centroid step overhead (section 1) per variant and schedule."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    c = report["centroid"]
    schedules = ("weight_0", "every_step", "lazy_every_4", "lazy_every_16")
    variants = ("float32", "bfloat16", "float32_channels_last_generator")
    fig, ax = plt.subplots(figsize=(7, 3.2))
    width = 0.8 / len(variants)
    for i, variant in enumerate(variants):
        values = [c[variant][s]["overhead_over_backbone"] for s in schedules]
        positions = [x + (i - 1) * width for x in range(len(schedules))]
        ax.bar(positions, values, width, label=variant)
    ax.axhline(1.10, color="red", ls="--", lw=1, label="target every step (1.10)")
    ax.axhline(0, color="black", lw=0.5)
    ax.set_xticks(range(len(schedules)), schedules)
    ax.set_ylabel("extra step time / backbone fwd+bwd")
    ax.set_title("Centroid overhead per generator step (vgg16, 64×64, CPU, 1 thread)", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke test)")
    parser.add_argument("--out", default=str(RESULTS / "benchmarks.json"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    os.environ.setdefault(
        "GAN_REGULARIZERS_CACHE", str(Path(tempfile.gettempdir()) / "gr-bench-cache")
    )
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    out = Path(args.out)
    report: dict[str, Any] = json.loads(out.read_text()) if out.is_file() else {}
    report.update(
        {
            "started": started,
            "environment": environment(),
            "quick": args.quick,
            "dtype": "float32 unless a row says bfloat16 (autocast)",
        }
    )
    start = time.perf_counter()
    functions = {
        "centroid": bench_centroid,
        "fit": bench_fit,
        "frechet": bench_frechet,
        "fid": bench_fid,
        "lpips": bench_lpips,
        "startup": bench_startup,
    }
    for name in args.only:
        section_start = time.perf_counter()
        report[name] = functions[name](args.quick)
        report[name]["section_wall_s"] = time.perf_counter() - section_start
    report["wall_s"] = time.perf_counter() - start
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(report, indent=2) + "\n")
    os.replace(temporary, out)
    out.with_suffix(".md").write_text(markdown(report))
    if "centroid" in report:
        plot(report, HERE.parent / "docs" / "images" / "benchmark_overhead.png")
    print(markdown(report))


if __name__ == "__main__":
    main()
