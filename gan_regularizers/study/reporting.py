"""``study report DIR [DIR …]``: the markdown report of one study (``DIR/report.md``) or one page
of several (``--out PAGE``), from results.json alone (no training, no scoring).

Sections: provenance, every setup (means with 95 % t-intervals over seeds), the comparisons per
family (Holm), per-seed values, sample grids, sweeps, curves over length, time to quality, rank
agreement between feature spaces, the study's notes, and what is not done.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gan_regularizers.files.atomic import atomic_write
from gan_regularizers.study import figures, tables
from gan_regularizers.study import statistics as st
from gan_regularizers.study.results import by_key, read_results
from gan_regularizers.study.sweeps import find_sweeps

STATISTICS_TEXT = (
    "Cells are means over training seeds with 95 % Student-t intervals over seeds. Each "
    "comparison pairs the two setups' runs of the same seed (same initialisation, data order "
    "and latents): mean difference [95 % paired t-interval], `d_z` = mean / sd of the "
    "differences, the two-sided paired t-test's p, and Holm's step-down adjusted p within the "
    "comparison's family. Verdicts (better, worse, no detectable difference) come from the Holm "
    f"p alone (≤ 0.05). {tables.SURVIVES}: survives Holm's correction; {tables.UNCORRECTED}: the "
    "interval excludes 0 but the difference does not survive the correction (not a finding); "
    f"{tables.CLIPPED}: a bounded metric's interval (a fraction in [0, 1], a difference of "
    "fractions in [−1, 1]) cut to that range: the t-interval of a mean near a bound can cross "
    "it, values beyond it are impossible."
)
REPRODUCIBILITY_TEXT = (
    "Reproducibility: on one machine and one version of the code, a run is bit-identical when "
    "trained again (`gan-regularizers study verify DIR`); on another machine (another CPU, torch "
    "build or GPU) the numbers agree within seed noise, not bitwise. Comparisons whose runs come "
    "from different code or machines say so in their verdict."
)


class _Context:
    """One study's results, indexed, and where its figures go."""

    def __init__(self, results: dict[str, Any], page: Path, draw: bool) -> None:
        self.results, self.page, self.draw = results, page, draw
        self.runs = by_key(results["runs"])
        self.name = results["study"]
        self.setups = list(results["setups"])
        self.seeds, self.lengths = results["seeds"], results["lengths"]
        scoring = results["scoring"]
        self.lower = scoring.get("lower_is_better") or []
        names: dict[str, None] = {}
        for run in results["runs"]:
            names |= dict.fromkeys(run.get("metrics") or {})
        self.metrics = list(names)
        self.bounded = {m for m in self.metrics if st.is_bounded(m, scoring.get("bounded") or [])}
        compared = [c["metric"] for c in results["comparisons"]]
        self.headline = list(dict.fromkeys(compared)) or self.metrics
        self.log = {m for m in self.metrics if st.lower_is_better(m, self.lower)}

    def image(self, kind: str, draw: Any, *args: Any) -> list[str]:
        """The markdown link to ``images/<study>_<kind>.png`` (drawn when asked); nothing when
        no run is done (nothing to draw)."""
        if not self.metrics:
            return []
        path = self.page.parent / "images" / f"{self.name}_{kind}.png"
        if self.draw:
            draw(*args, path)
        return [f"![{self.name}: {kind}](images/{path.name})", ""]


def _provenance(results: dict[str, Any]) -> list[str]:
    codes, machines, torches, notes = set(), set(), set(), set()
    for run in results["runs"]:
        if run["status"] != "done":
            continue
        origin = run.get("provenance") or {}
        notes |= {origin["note"]} if origin.get("note") else set()
        code = origin.get("code") or {}
        if code:
            commit = (code.get("commit") or "")[:10] or "commit not recorded"
            codes.add(f"{code.get('version')} ({commit}{', dirty' if code.get('dirty') else ''})")
        machine = origin.get("machine")
        machines.add(
            f"{machine.get('cpu')}, {machine.get('cpu_capability')}"
            + (f", {machine['gpu']}" if machine.get("gpu") else "")
            if machine
            else "not recorded"
        )
        torches.add((origin.get("libraries") or {}).get("torch", "not recorded"))
    return [
        f"Code: {', '.join(sorted(codes)) or 'not recorded'}; machines: "
        f"{'; '.join(sorted(machines))}; torch {', '.join(sorted(torches))}."
        + "".join(f" Runs {note}." for note in sorted(notes)),
        "",
        REPRODUCIBILITY_TEXT,
    ]


def _families(results: dict[str, Any], h: str, context: _Context) -> list[str]:
    lines: list[str] = []
    families: dict[str, list[dict]] = {}
    for entry in results["comparisons"]:
        families.setdefault(entry["family"], []).append(entry)
    for family, entries in families.items():
        pairs = len({(e["setup"], e["baseline"], e["steps"]) for e in entries})
        lines += [
            f"{h}## Family `{family}`: {len(entries)} tests ({pairs} comparisons × metrics)",
            "",
            f"Holm's correction runs over these {len(entries)} tests.",
            "",
            *tables.wide_comparisons(entries, context.bounded),
            "",
            *tables.long_comparisons(entries),
            "",
        ]
    return lines or ["No comparison has two paired seeds done yet.", ""]


def _sweep_lines(context: _Context, h: str, steps: int) -> list[str]:
    lines: list[str] = []
    for index, (option, points) in enumerate(find_sweeps(context.results["setups"])):
        setups = [s for s, _ in points]
        values = ", ".join(f"{s} = {v:g}" for s, v in points)
        lines += [
            f"{h}# Sweep of `{option}` ({values})",
            "",
            *tables.setup_table(context.runs, setups, context.metrics, [steps], context.bounded),
            "",
        ]
        lines += context.image(
            f"sweep{index}" if index else "sweep",
            figures.sweep,
            context.runs,
            points,
            steps,
            context.headline[:3],
            option,
            context.log,
        )
    return lines


def _grid_lines(context: _Context, steps: int) -> list[str]:
    seed = context.seeds[0]
    found = []
    for setup in context.setups:
        run = context.runs.get((setup, seed, steps))
        if run:
            image = (
                Path(context.results.get("_dir", "."))
                / run["run_folder"]
                / "samples"
                / f"step_{steps:06d}.png"
            )
            if image.is_file():
                found.append((setup, image))
    path = context.page.parent / "images" / f"{context.name}_grids.png"
    if found and context.draw:
        figures.grids(found, path)
    elif not path.is_file():
        return ["No sample grids: the run folders are not here.", ""]
    return [
        f"Samples of seed {seed} at {steps} steps, one grid per setup:",
        "",
        f"![{context.name}: grids](images/{path.name})",
        "",
    ]


def _curve_lines(context: _Context, h: str) -> list[str]:
    if len(context.lengths) < 2 or not context.metrics:
        return []
    metric = context.headline[0]
    lower = st.lower_is_better(metric, context.lower)
    first = context.setups[0]
    middle = context.lengths[1:-1] or context.lengths[-1:]
    thresholds = [
        st.t_interval(list(v))[0]
        for n in middle
        if (v := [r["metrics"][metric] for r in tables.done(context.runs, first, n).values()])
    ]
    lines = [f"{h}# Curves over training length", ""]
    lines += context.image(
        "curves",
        figures.curves,
        context.runs,
        context.setups,
        context.seeds,
        context.lengths,
        context.headline[:3],
    )
    lines += [
        f"{h}# Time to quality",
        "",
        f"The first measured length at which a seed's {metric} reaches {first}'s mean at "
        f"{', '.join(map(str, middle))} steps; steps and cumulative training seconds per "
        f"seed (seeds {', '.join(map(str, context.seeds))}; –: not reached at any length "
        "measured).",
        "",
        *tables.time_to_quality(
            context.runs, context.setups, context.seeds, context.lengths, metric, thresholds, lower
        ),
        "",
    ]
    return lines


def _not_done(results: dict[str, Any]) -> list[str]:
    missing = [r for r in results["runs"] if r["status"] != "done"]
    if not missing:
        return ["Every run is done."]
    return [
        f"- {r['setup']} seed {r['seed']} at {r['steps']} steps: {r['status']}"
        + (f" ({r['error']})" if r.get("error") else "")
        for r in missing
    ]


def study_section(results: dict[str, Any], page: Path, level: int, draw: bool) -> list[str]:
    """The markdown of one study, its headings at ``level`` (1: ``#``)."""
    context = _Context(results, page, draw)
    h = "#" * level
    longest = context.lengths[-1]
    lines = [f"{h} {results.get('title') or results['study']}", ""]
    if results.get("description"):
        lines += [results["description"], ""]
    lines += [
        *_provenance(results),
        "",
        f"{h}# Every setup",
        "",
        *tables.setup_table(
            context.runs, context.setups, context.metrics, context.lengths, context.bounded
        ),
        "",
        STATISTICS_TEXT,
        "",
    ]
    lines += context.image(
        "seeds",
        figures.per_seed,
        context.runs,
        context.setups,
        context.headline[:4],
        longest,
        context.log,
    )
    lines += [f"{h}# Comparisons", "", *_families(results, h, context)]
    lines += _grid_lines(context, longest)
    lines += _sweep_lines(context, h, longest)
    lines += _curve_lines(context, h)
    tau = tables.rank_agreement(context.runs, context.setups, context.metrics, longest)
    if tau:
        lines += [f"{h}# Rank agreement between feature spaces", "", *tau, ""]
    if results.get("notes"):
        lines += [f"{h}# What it shows", "", results["notes"], ""]
    lines += [f"{h}# Not done", "", *_not_done(results), ""]
    return lines


def write_report(
    dirs: str | Path | Sequence[str | Path],
    out: str | Path | None = None,
    *,
    title: str | None = None,
    images: bool = True,
    notes: str | Path | None = None,
) -> Path:
    """Write the report of the study in ``dirs`` (or one page of several studies).

    Args:
        dirs: a study's ``--out`` folder, or several.
        out: the markdown file (default: ``DIR/report.md`` of the first).
        title: the page's title when there are several studies.
        images: draw the figures (``False``: only the text, with the same links).
        notes: a markdown file appended as "What it shows" (a page's own reading of the data).
    """
    folders = [Path(dirs)] if isinstance(dirs, str | Path) else [Path(d) for d in dirs]
    page = Path(out) if out else folders[0] / "report.md"
    several = len(folders) > 1
    studies = [{**read_results(folder), "_dir": str(folder)} for folder in folders]
    lines = []
    if several:
        names = ", ".join(f"`{results['study']}`" for results in studies)
        lines = [
            f"# {title or 'Studies'}",
            "",
            f"Written by `gan-regularizers study report` from the results of the studies "
            f"{names} ([Studies](studies.md)); each section below is one study.",
            "",
        ]
    for results in studies:
        lines += study_section(results, page, 2 if several else 1, images)
    if notes:
        lines += [f"{'##' if several else '#'} What it shows", "", Path(notes).read_text().strip()]
    text = "\n".join(lines).rstrip() + "\n"
    return atomic_write(page, lambda file: file.write(text.encode()))
