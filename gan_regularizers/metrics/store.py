"""``metrics.json`` of a run: results accumulate per metric and protocol, never overwritten.

Each entry holds one metric spec's results with the *reuse key*: a hash of everything that can
change the number (the metric spec with its options, ``num_samples``, ``max_images``, LPIPS
``pairs``, ``seed``, the feature space's descriptor with its weights' sha256 or the image metric's
networks, the random-trunk flag, the package version, the checkpoint step and which generator
weights were loaded). ``compare`` reuses an entry only when its key is the one it would compute
now; otherwise it evaluates again and adds an entry. Files are written atomically.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gan_regularizers._version import __version__
from gan_regularizers.files.cache import stable_hash

FORMAT = "gan-regularizers/metrics"


def metric_descriptor(metric: Any) -> dict[str, Any]:
    """The descriptor of the networks behind ``metric`` (builds its feature space)."""
    return dict(metric.descriptor())


def reuse_fields(
    metric: Any,
    *,
    num_samples: int,
    max_images: int | None,
    pairs: int,
    seed: int,
    run: dict[str, Any],
) -> dict[str, Any]:
    """Every argument that changes ``metric``'s number, as stored beside it."""
    return {
        "metric_spec": metric.spec,
        "num_samples": num_samples,
        "max_images": max_images,
        "pairs": pairs if metric.name == "lpips-div" else None,
        "seed": seed,
        "descriptor": metric_descriptor(metric),
        "package_version": __version__,
        "step": run.get("step"),
        "generator_weights": run.get("weights"),
        "sources": {k: run[k] for k in ("fake", "real") if k in run} or None,  # score's sides
    }


def reuse_key(fields: dict[str, Any]) -> str:
    return stable_hash(fields)


def read_entries(path: Path) -> list[dict[str, Any]]:
    """The entries of a ``metrics.json`` (none when missing, unreadable or of an old format)."""
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        return []
    entries = payload.get("entries")
    return entries if isinstance(entries, list) else []


def find_entry(entries: list[dict[str, Any]], key: str) -> dict[str, Any] | None:
    return next((e for e in reversed(entries) if e.get("key") == key), None)


def add_entries(path: Path, new: list[dict[str, Any]]) -> Path:
    """Add ``new`` entries (replacing those with the same key) and write atomically.

    The top-level ``metrics`` holds the latest result of each metric name and ``protocol`` the
    latest entry's protocol, for quick reading; ``entries`` is the record.
    """
    from gan_regularizers.files.atomic import atomic_write

    keys = {entry["key"] for entry in new}
    entries = [e for e in read_entries(path) if e.get("key") not in keys] + new
    latest: dict[str, Any] = {}
    for entry in entries:
        latest.update(entry["results"])
    protocol = entries[-1].get("protocol", {}) if entries else {}
    payload = {"format": FORMAT, "entries": entries, "metrics": latest, "protocol": protocol}
    text = json.dumps(payload, indent=2) + "\n"
    return atomic_write(path, lambda file: file.write(text.encode("utf-8")))
