"""2-D Gaussian mixtures (ring of 8, grid of 25): mode coverage of BCE, LSGAN and hinge with and
without the centroid constraint, and of BCE with R1 or LeCam, over several seeds.

The benchmark of Unrolled GAN (Metz et al., 2017) and VEEGAN (Srivastava et al., 2017):

* ring: 8 Gaussians evenly on a circle of radius 2, std 0.02;
* grid: 25 Gaussians on a 5×5 grid with spacing 2 (centred at 0), std 0.02;
* 2,500 generated samples; a sample is *high quality* within 3σ (0.06) of its nearest centre;
  a mode is *covered* when at least one high-quality sample is nearest to it
  (``gan_regularizers.metrics.mode_coverage.mixture_coverage``).

The GAN trains through ``gan_regularizers.train`` with the ``mlp`` architecture (G: z 16 → 128 →
128 → 2 → tanh, D: 2 → 128 → 128 → 1; a 2-D point is a 2×1×1 "image"), Adam lr 1e-3, betas
(0.5, 0.999), batch 128, ``--steps`` steps (one D and one G update each), on a fixed set of
``--points`` (default 100,000) points drawn from the mixture. Points are divided by a fixed scale
(2.5 for the ring, 5 for the grid) so that the data lies in [-1, 1], the range of G's tanh and
the range ``CentroidLoss.fit`` checks; samples are scaled back before evaluation. The centroid
setups pass ``CentroidLoss(torch.nn.Flatten(), weight=λ, centers=k)`` (the identity space of the
points) to ``train``, fitted on 10,000 real points, with k = 8 (ring) and k = 25 (grid) centres
found by k-means; ``bce+centroid-k1`` uses the paper's single centre. R1 (γ = 1) and LeCam
(λ = 0.3, decay 0.99) are the registered discriminator-side plugins, given to ``train`` as specs.
The stored results in ``experiments/results/mixtures*`` were made by an earlier version of this
script with its own training loop (fresh points each step, no tanh); their options differ, so a
new run of this script recomputes every cell. ``bce+centroid-scale-free`` divides the excess
by each centre's d_ref (λ = 0.5, as on mnist5k); ``bce+centroid-per-class`` fits one centre per
mixture component from the component labels. DiffAugment is an image augmentation with no 2-D
counterpart, so it is not run here.
Comparisons are paired by seed (same initialisation, data and latents).

Every result is a mean over seeds with a 95 % Student-t interval over seeds. Per-run JSON goes
to ``experiments/results/mixtures/``; the summary to ``experiments/results/mixtures_summary.*``.

Usage: python experiments/mixtures.py [--seeds 0 1 2 3 4] [--steps 4000] [--points 100000]
[--jobs 1]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from stats import fmt, holm, paired_p_value, t_interval, versions, write_json  # noqa: E402

RESULTS = HERE / "results"
MIXTURES = {
    "ring8": {
        "std": 0.02,
        "scale": 2.5,
        "centers": 8,
        "description": "8 Gaussians on a circle of radius 2, std 0.02",
    },
    "grid25": {
        "std": 0.02,
        "scale": 5.0,
        "centers": 25,
        "description": "5×5 grid of Gaussians, spacing 2, std 0.02",
    },
}
# name -> (loss, discriminator-side regularizer spec or None, centroid options or None for no
# centroid; without "centers" or "per_class" there is one centre per mixture component)
ONE_PER_COMPONENT: dict[str, Any] = {}
SETUP_SPECS: dict[str, tuple[str, str | None, dict[str, Any] | None]] = {
    "bce": ("bce", None, None),
    "bce+centroid": ("bce", None, ONE_PER_COMPONENT),
    "lsgan": ("lsgan", None, None),
    "lsgan+centroid": ("lsgan", None, ONE_PER_COMPONENT),
    "hinge": ("hinge", None, None),
    "hinge+centroid": ("hinge", None, ONE_PER_COMPONENT),
    "bce+centroid-k1": ("bce", None, {"centers": 1}),
    "bce+centroid-scale-free": ("bce", None, {"normalize": "d_ref", "weight": 0.5}),
    "bce+centroid-per-class": ("bce", None, {"per_class": True}),
    "r1": ("bce", "r1:gamma=1", None),
    "lecam": ("bce", "lecam", None),
}
SETUPS = tuple(SETUP_SPECS)
# (setup, baseline): the paired comparisons on the page; the unit is the training seed
PAIRS = [
    ("bce+centroid", "bce"),
    ("lsgan+centroid", "lsgan"),
    ("hinge+centroid", "hinge"),
    ("bce+centroid-k1", "bce"),
    ("bce+centroid-scale-free", "bce"),
    ("bce+centroid-per-class", "bce"),
    ("r1", "bce"),
    ("lecam", "bce"),
]


def mixture_centres(name: str) -> Any:
    from gan_regularizers.metrics.mode_coverage import grid_centres, ring_centres

    return ring_centres(8, 2.0) if name == "ring8" else grid_centres(5, 2.0)


def sample_labelled(name: str, n: int, generator: Any) -> tuple[Any, Any]:
    """``n`` points of the mixture and the index of the component each came from."""
    import torch

    centres = mixture_centres(name).float()
    index = torch.randint(centres.shape[0], (n,), generator=generator)
    points = centres[index] + MIXTURES[name]["std"] * torch.randn(n, 2, generator=generator)
    return points, index


def sample_mixture(name: str, n: int, generator: Any) -> Any:
    return sample_labelled(name, n, generator)[0]


def fitted_centroid(
    mixture: str, centroid: dict[str, Any], options: dict[str, Any], rng: Any
) -> tuple[Any, int]:
    """``CentroidLoss`` in the identity space, fitted on 10,000 scaled points of ``mixture``."""
    import torch

    from gan_regularizers import CentroidLoss

    points, labels = sample_labelled(mixture, 10_000, rng)
    per_class = centroid.get("per_class", False)
    default = options["centers"] or MIXTURES[mixture]["centers"]  # --centers, else one each
    k = 1 if per_class else centroid.get("centers", default)
    kwargs = {"weight": options["weight"], "progress": False, **centroid, "centers": k}
    loss = CentroidLoss(torch.nn.Flatten(), **kwargs)
    scaled = (points / MIXTURES[mixture]["scale"]).view(-1, 2, 1, 1)
    fitted = loss.fit([(scaled, labels)] if per_class else scaled, batch_size=1000)
    return fitted, MIXTURES[mixture]["centers"] if per_class else k


def run_one(mixture: str, setup: str, seed: int, options: dict[str, Any]) -> dict[str, Any]:
    import tempfile

    import torch

    from gan_regularizers import train
    from gan_regularizers.data.tensors import TensorImages
    from gan_regularizers.metrics.mode_coverage import mixture_coverage

    spec = MIXTURES[mixture]
    scale = spec["scale"]
    data_rng = torch.Generator().manual_seed(10_000 + seed)
    loss_name, d_spec, centroid_options = SETUP_SPECS[setup]
    regularizers: list[Any] = [d_spec] if d_spec else []
    fit_s, k = 0.0, None
    if centroid_options is not None:
        start = time.perf_counter()
        centroid, k = fitted_centroid(mixture, centroid_options, options, data_rng)
        fit_s = time.perf_counter() - start
        regularizers.append(centroid)
    points, labels = sample_labelled(mixture, options["points"], data_rng)
    dataset = TensorImages((points / scale).view(-1, 2, 1, 1), labels, mixture)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        result = train(
            None, dataset=dataset, architecture="mlp:width=128", image_size=1,
            z_dim=options["z_dim"], loss=loss_name, regularizers=regularizers,
            steps=options["steps"], batch_size=options["batch_size"], g_lr=options["lr"],
            d_lr=options["lr"], seed=seed, threads=1, quiet=True, tensorboard=False, plots=False,
            sample_every=options["steps"], checkpoint_every=options["steps"],
            log_every=options["steps"], run_dir=str(Path(folder) / "run"),
        )  # fmt: skip
    train_s = time.perf_counter() - start
    with torch.no_grad():
        z = torch.randn(
            options["eval_n"], options["z_dim"], generator=torch.Generator().manual_seed(99)
        )
        samples = result.generator.eval()(z).view(-1, 2) * scale
    coverage = mixture_coverage(samples, mixture_centres(mixture), spec["std"])
    return {
        "mixture": mixture,
        "setup": setup,
        "seed": seed,
        "options": options,
        "centroid_centers": k,
        "modes_covered": coverage.covered,
        "num_modes": coverage.num_modes,
        "high_quality_fraction": coverage.high_quality_fraction,
        "train_seconds": train_s,
        "fit_seconds": fit_s,
        # 500 samples of seed 0 for the plot (kept small: the files are committed)
        "samples_head": [[round(v, 4) for v in xy] for xy in samples[:500].tolist()]
        if seed == 0
        else [],
    }


def summarise(rows: list[dict[str, Any]], options: dict[str, Any]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    comparisons: dict[str, Any] = {}
    for mixture in MIXTURES:
        summary[mixture] = {}
        for setup in SETUPS:
            runs = sorted(
                (r for r in rows if r["mixture"] == mixture and r["setup"] == setup),
                key=lambda r: r["seed"],
            )
            if runs:
                summary[mixture][setup] = {
                    "modes_covered": t_interval([float(r["modes_covered"]) for r in runs]),
                    "high_quality_fraction": t_interval([r["high_quality_fraction"] for r in runs]),
                    "seeds": [r["seed"] for r in runs],
                    "num_modes": runs[0]["num_modes"],
                }
        comparisons.update(_paired(rows, mixture))
    return {
        "experiment": "mixtures",
        "options": options,
        "mixtures": MIXTURES,
        "summary": summary,
        "comparisons": comparisons,
        "versions": versions(),
        "interval": "95% Student-t over seeds",
    }


def _paired(rows: list[dict[str, Any]], mixture: str) -> dict[str, Any]:
    """Each pair's per-seed differences (setup − baseline), with a t-interval over seeds."""
    out: dict[str, Any] = {}
    by_key = {(r["setup"], r["seed"]): r for r in rows if r["mixture"] == mixture}
    for setup, baseline in PAIRS:
        seeds = sorted(s for (name, s) in by_key if name == setup and (baseline, s) in by_key)
        if len(seeds) < 2:
            continue
        out[f"{mixture}/{setup} − {baseline}"] = {
            m: t_interval(
                [float(by_key[setup, s][m]) - float(by_key[baseline, s][m]) for s in seeds]
            )
            for m in ("modes_covered", "high_quality_fraction")
        }
    return out


def _verdict(interval: dict[str, Any], survives: bool) -> str:
    """'no detectable difference' when the interval holds 0; else the direction, with whether
    it survives Holm's correction over every comparison in the table."""
    if interval["low"] <= 0 <= interval["high"]:
        return "no detectable difference"
    direction = "higher" if interval["low"] > 0 else "lower"
    return f"**{direction}**, survives Holm" if survives else f"{direction}, uncorrected only"


def markdown(report: dict[str, Any]) -> str:
    o = report["options"]
    lines = [
        f"2-D mixtures, MLP GAN, {o['steps']} steps, batch {o['batch_size']}, centroid λ = "
        f"{o['weight']} in the identity space with one centre per component (k = 8 ring, 25 "
        "grid; `-k1`: the paper's single centre; `-scale-free`: λ = 0.5 on the excess over "
        "d_ref; `-per-class`: the components' own centres); R1 γ = 1; LeCam λ = 0.3, decay "
        "0.99; mean [95% t-interval over seeds].",
        "",
        "| mixture | setup | seeds | modes covered ↑ | high-quality fraction ↑ |",
        "|---|---|---|---|---|",
    ]
    for mixture, setups in report["summary"].items():
        for setup, s in setups.items():
            lines.append(
                f"| {mixture} | {setup} | {len(s['seeds'])} | {fmt(s['modes_covered'], 2)} / "
                f"{s['num_modes']} | {fmt(s['high_quality_fraction'], 3)} |"
            )
    lines.append("")
    lines += [
        "",
        "Paired differences (same seed: same initialisation), mean [95 % t-interval over "
        "seeds]; Holm's correction runs over every comparison in this table:",
        "",
        "| comparison | modes covered | high-quality fraction |",
        "|---|---|---|",
    ]
    measures = ("modes_covered", "high_quality_fraction")
    p_values = {
        (key, m): paired_p_value(diffs[m]["values"])
        for key, diffs in report["comparisons"].items()
        for m in measures
    }
    survivors = holm(p_values)
    for key, diffs in report["comparisons"].items():
        cells = [
            f"{fmt(diffs[m], 3)} ({_verdict(diffs[m], (key, m) in survivors)})" for m in measures
        ]
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(SETUPS), figsize=(2.2 * len(SETUPS), 4.6))
    for i, mixture in enumerate(MIXTURES):
        centres = mixture_centres(mixture)
        for j, setup in enumerate(SETUPS):
            ax = axes[i][j]
            run = next(
                (
                    r
                    for r in rows
                    if r["mixture"] == mixture and r["setup"] == setup and r["seed"] == 0
                ),
                None,
            )
            if run:
                xy = list(zip(*run["samples_head"], strict=True))
                ax.scatter(xy[0], xy[1], s=2, alpha=0.5)
                ax.set_title(
                    f"{mixture} {setup}\n{run['modes_covered']}/{run['num_modes']} modes, "
                    f"HQ {run['high_quality_fraction']:.2f}",
                    fontsize=8,
                )
            ax.scatter(centres[:, 0], centres[:, 1], s=12, marker="x", color="red")
            lim = 3.0 if mixture == "ring8" else 5.5
            ax.set_xlim(-lim, lim)
            ax.set_ylim(-lim, lim)
            ax.set_aspect("equal")
            ax.tick_params(labelsize=6)
    fig.suptitle("500 generated samples, seed 0 (red ×: mixture centres)", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--mixtures", nargs="+", default=list(MIXTURES))
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--points", type=int, default=100_000, help="training points")
    parser.add_argument("--weight", type=float, default=0.1)
    parser.add_argument("--centers", type=int, default=0, help="0: 8 (ring) / 25 (grid)")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--plot", default=str(HERE.parent / "docs" / "images" / "mixtures.png"))
    args = parser.parse_args()
    options = {
        "steps": args.steps,
        "batch_size": args.batch_size,
        "weight": args.weight,
        "centers": args.centers,
        "z_dim": 16,
        "lr": 1e-3,
        "eval_n": 2500,
        "points": args.points,
        "architecture": "mlp:width=128",
    }
    out_dir = RESULTS / "mixtures"
    todo = []
    for seed in args.seeds:
        for mixture in args.mixtures:
            for setup in SETUPS:
                path = out_dir / f"{mixture}_{setup}_seed{seed}.json"
                if not path.exists() or json.loads(path.read_text())["options"] != options:
                    todo.append((mixture, setup, seed, path))
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=get_context("spawn")) as pool:
        futures = {
            pool.submit(run_one, m, s, seed, options): (m, s, seed, p) for m, s, seed, p in todo
        }
        for future, (mixture, setup, seed, path) in futures.items():
            row = future.result()
            write_json(path, row)
            print(
                f"{mixture} {setup} seed {seed}: {row['modes_covered']}/{row['num_modes']} modes, "
                f"HQ {row['high_quality_fraction']:.3f}, {row['train_seconds']:.0f}s",
                flush=True,
            )
    rows = [json.loads(p.read_text()) for p in sorted(out_dir.glob("*.json"))]
    rows = [r for r in rows if r["options"] == options]
    report = summarise(rows, options)
    write_json(RESULTS / "mixtures_summary.json", report)
    (RESULTS / "mixtures_summary.md").write_text(markdown(report))
    if args.plot:
        plot(rows, Path(args.plot))
    print(markdown(report))


if __name__ == "__main__":
    main()
