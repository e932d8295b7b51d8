"""The default metrics, written once: what ``eval``, ``compare``, ``score`` and ``demo`` use.

A dataset may declare the metrics it is best scored with (``evaluation_metrics``; mnist5k:
digit metrics in spaces no built-in regularizer uses) and the Fréchet metric ``compare`` falls
back to (``neutral_metric``). Otherwise ``DEFAULT_METRICS``, which need downloaded weights
(Inception, the LPIPS AlexNet trunk): offline they are skipped with the reason, and
``offline_advice`` names the metrics that run without any download.
"""

from __future__ import annotations

DEFAULT_METRICS = ("fid", "lpips-div")
# no network, no weights: raw pixels (fd on d = C·H·W: fine up to about 64×64×1 or 32×32×3)
OFFLINE_METRICS = ("fd:pixels", "precision-recall:pixels", "density-coverage:pixels")


def default_metrics(dataset: object = None) -> list[str]:
    """The metrics ``dataset`` declares (``evaluation_metrics``), else ``DEFAULT_METRICS``."""
    return list(getattr(dataset, "evaluation_metrics", DEFAULT_METRICS))


def offline_advice(dataset: object = None) -> str:
    """Which metrics run offline: the pixel ones and the dataset's own declared ones."""
    own = [m for m in getattr(dataset, "evaluation_metrics", ()) if m not in DEFAULT_METRICS]
    choices = ",".join(dict.fromkeys([*own, *OFFLINE_METRICS]))
    return (
        f"metrics that need no download: --metrics {choices} (or give local weights, e.g. "
        "--metrics fid:weights=PATH,lpips-div:weights=PATH)"
    )
