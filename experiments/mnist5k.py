"""mnist5k on CPU: BCE, BCE+centroid, LSGAN, LSGAN+centroid over several seeds.

Each run trains the package's DCGAN-32 with ``gan_regularizers.train`` (config in
``experiments/mnist5k.toml``), then measures, on ``--n`` generated images (latents seeded):

* ``fd:mnist-classifier``: Fréchet distance in the 128-d embedding of the embedded
  ``mnist-classifier`` (a different network from the ``mnist-features`` space the centroid uses),
  against all 5,000 mnist5k images;
* ``modes``: classes covered out of 10 and KL(p̂ ‖ uniform) of the classifier's predictions;
* ``pairwise diversity``: mean pairwise L2 distance between the ``mnist-classifier`` embeddings of
  the first ``--diversity-n`` generated images (the same quantity for real images is recorded).

Every result is the mean over seeds with a 95 % Student-t interval over seeds. Per-run JSON goes
to ``experiments/results/mnist5k/`` (existing runs are reused: delete them to re-run), the summary
to ``experiments/results/mnist5k_summary.{json,md}``.

Usage: python experiments/mnist5k.py [--seeds 0 1 2 3 4] [--steps 600] [--jobs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import tomllib
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from stats import fmt, overlap, t_interval, versions, write_json  # noqa: E402

RESULTS = HERE / "results"
SETUPS = {
    "bce": {"loss": "bce", "regularizers": []},
    "bce+centroid": {
        "loss": "bce",
        "regularizers": ["centroid:weight=0.1,feature_space=mnist-features"],
    },
    "lsgan": {"loss": "lsgan", "regularizers": []},
    "lsgan+centroid": {
        "loss": "lsgan",
        "regularizers": ["centroid:weight=0.1,feature_space=mnist-features"],
    },
}


def pairwise_diversity(features: Any) -> float:
    import torch

    return float(torch.pdist(features.double()).mean())


def run_one(setup: str, seed: int, base: dict[str, Any], n: int, diversity_n: int) -> dict:
    import torch

    torch.set_num_threads(1)
    import gan_regularizers
    from gan_regularizers.data.sources import load_dataset
    from gan_regularizers.metrics.evaluation import GeneratedImages, evaluate
    from gan_regularizers.plugin_system.registry import get_feature_space

    run_dir = Path(tempfile.gettempdir()) / "gr-experiments" / f"mnist5k-{setup}-seed{seed}"
    options = {**base, **SETUPS[setup], "seed": seed, "run_dir": str(run_dir)}
    start = time.perf_counter()
    result = gan_regularizers.train(None, **options)
    train_s = time.perf_counter() - start
    real = load_dataset("mnist5k", image_size=base["image_size"])
    fake = GeneratedImages(result.generator, n=n, z_dim=base["z_dim"], seed=1000 + seed)
    evaluation = evaluate(
        fake,
        real,
        "fd:mnist-classifier,modes:classifier=mnist-classifier",
        seed=seed,
        progress=False,
    )  # the historical protocol of docs/experiments.md (see its caveats)
    space = get_feature_space("mnist-classifier")
    with torch.no_grad():
        features = space(fake.first(diversity_n))
    fd = evaluation.metrics["fd:mnist-classifier"]
    modes = {
        "classes_covered": evaluation.metrics["modes"].value,
        "kl_to_uniform": evaluation.metrics["modes-kl"].value,
        "histogram": evaluation.metrics["modes"].protocol["histogram"],
    }
    return {
        "setup": setup,
        "seed": seed,
        "config": options,
        "train_seconds": train_s,
        "fd_mnist_classifier": fd.value,
        "fd_jackknife_interval": [fd.low, fd.high],
        "classes_covered": modes["classes_covered"],
        "kl_to_uniform": modes["kl_to_uniform"],
        "histogram": modes["histogram"],
        "pairwise_diversity": pairwise_diversity(features),
        "n_generated": n,
        "diversity_n": diversity_n,
        "protocol": evaluation.protocol,
    }


def real_diversity(image_size: int, diversity_n: int) -> float:
    import torch

    from gan_regularizers.data.sources import load_dataset
    from gan_regularizers.plugin_system.registry import get_feature_space

    real = load_dataset("mnist5k", image_size=image_size)
    index = torch.randperm(len(real), generator=torch.Generator().manual_seed(0))[:diversity_n]
    images = torch.stack(
        [real[int(i)][0] if isinstance(real[int(i)], tuple) else real[int(i)] for i in index]
    )
    with torch.no_grad():
        return pairwise_diversity(get_feature_space("mnist-classifier")(images))


def summarise(rows: list[dict], base: dict[str, Any], real_div: float) -> dict[str, Any]:
    metrics = ("fd_mnist_classifier", "classes_covered", "kl_to_uniform", "pairwise_diversity")
    summary: dict[str, Any] = {}
    for setup in SETUPS:
        runs = sorted((r for r in rows if r["setup"] == setup), key=lambda r: r["seed"])
        if runs:
            summary[setup] = {m: t_interval([float(r[m]) for r in runs]) for m in metrics}
            summary[setup]["seeds"] = [r["seed"] for r in runs]
    comparisons = {}
    for loss in ("bce", "lsgan"):
        if loss in summary and f"{loss}+centroid" in summary:
            comparisons[loss] = {
                m: (
                    "no detectable difference"
                    if overlap(summary[loss][m], summary[f"{loss}+centroid"][m])
                    else "intervals do not overlap"
                )
                for m in metrics
            }
    return {
        "experiment": "mnist5k",
        "config": base,
        "real_pairwise_diversity": real_div,
        "summary": summary,
        "comparisons": comparisons,
        "versions": versions(),
        "interval": "95% Student-t over seeds",
    }


def markdown(report: dict[str, Any]) -> str:
    base = report["config"]
    architecture = base.get("architecture") or (  # stored reports from before the key existed
        f"dcgan:g_width={base['g_width']},d_width={base['d_width']}"
    )
    lines = [
        f"mnist5k, {architecture} at 32×32, "
        f"{base['steps']} steps, batch {base['batch_size']}, CPU; mean [95% t-interval over seeds].",  # noqa: E501
        "",
        "| setup | seeds | FD (mnist-classifier) ↓ | classes covered /10 ↑ | KL to uniform ↓ | pairwise diversity |",  # noqa: E501
        "|---|---|---|---|---|---|",
    ]
    for setup, s in report["summary"].items():
        lines.append(
            f"| {setup} | {len(s['seeds'])} | {fmt(s['fd_mnist_classifier'], 2)} | "
            f"{fmt(s['classes_covered'], 1)} | {fmt(s['kl_to_uniform'], 3)} | "
            f"{fmt(s['pairwise_diversity'], 2)} |"
        )
    lines.append("")
    lines.append(
        f"Real mnist5k pairwise diversity (same measure): {report['real_pairwise_diversity']:.2f}."
    )
    for loss, verdicts in report["comparisons"].items():
        lines.append(
            f"\n{loss} vs {loss}+centroid: " + ", ".join(f"{k}: {v}" for k, v in verdicts.items())
        )
    return "\n".join(lines) + "\n"


def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = (
        ("fd_mnist_classifier", "FD, mnist-classifier ↓"),
        ("classes_covered", "classes covered /10 ↑"),
        ("kl_to_uniform", "KL to uniform ↓"),
        ("pairwise_diversity", "pairwise diversity"),
    )
    setups = list(report["summary"])
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.2))
    for ax, (key, title) in zip(axes, panels, strict=True):
        for x, setup in enumerate(setups):
            interval = report["summary"][setup][key]
            error = [[interval["mean"] - interval["low"]], [interval["high"] - interval["mean"]]]
            color = "tab:orange" if "centroid" in setup else "tab:blue"
            ax.bar(x, interval["mean"], yerr=error, capsize=4, color=color, alpha=0.8)
            ax.scatter([x] * len(interval["values"]), interval["values"], s=8, color="black")
        if key == "pairwise_diversity":
            ax.axhline(report["real_pairwise_diversity"], color="gray", ls="--", lw=1)
        ax.set_xticks(range(len(setups)), setups, rotation=30, ha="right", fontsize=7)
        ax.set_title(title, fontsize=9)
    fig.suptitle(
        "mnist5k: mean, 95% t-interval over seeds, dots = seeds (dashed: real data)", fontsize=9
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(HERE / "mnist5k.toml"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--setups", nargs="+", default=list(SETUPS))
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--diversity-n", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault(
        "GAN_REGULARIZERS_CACHE", str(Path(tempfile.gettempdir()) / "gr-exp-cache")
    )
    base = tomllib.loads(Path(args.config).read_text())
    if args.steps:
        base["steps"] = args.steps
    out_dir = RESULTS / "mnist5k"
    todo = []
    for seed in args.seeds:
        for setup in args.setups:
            path = out_dir / f"{setup}_seed{seed}.json"
            if not path.exists():
                todo.append((setup, seed, path))
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=get_context("spawn")) as pool:
        futures = {
            pool.submit(run_one, s, seed, base, args.n, args.diversity_n): (s, seed, p)
            for s, seed, p in todo
        }
        for future, (setup, seed, path) in futures.items():
            row = future.result()
            write_json(path, row)
            print(
                f"{setup} seed {seed}: FD {row['fd_mnist_classifier']:.2f}, "
                f"classes {row['classes_covered']}, KL {row['kl_to_uniform']:.3f}, "
                f"div {row['pairwise_diversity']:.2f}, {row['train_seconds']:.0f}s",
                flush=True,
            )
    rows = [json.loads(p.read_text()) for p in sorted(out_dir.glob("*.json"))]
    rows = [r for r in rows if r["config"]["steps"] == base["steps"]]
    report = summarise(rows, base, real_diversity(base["image_size"], args.diversity_n))
    write_json(RESULTS / "mnist5k_summary.json", report)
    (RESULTS / "mnist5k_summary.md").write_text(markdown(report))
    plot(report, HERE.parent / "docs" / "images" / "mnist5k.png")
    print(markdown(report))


if __name__ == "__main__":
    main()
