"""Studies: setups × seeds × lengths, trained and scored on one machine or a Ray cluster, with
paired verdicts (Holm-corrected) and random-feature-space controls (docs/studies.md).

    from gan_regularizers import study
    study.run("my_study.toml", out="runs/my_study", jobs=2)
    study.report("runs/my_study")           # runs/my_study/report.md
"""

from __future__ import annotations

from gan_regularizers.errors import StudyError, StudyFileError
from gan_regularizers.study.reporting import write_report as report
from gan_regularizers.study.runner import run_study as run
from gan_regularizers.study.schema import Study, load_study
from gan_regularizers.study.status import study_status as status
from gan_regularizers.study.verify import verify_runs as verify

__all__ = [
    "Study",
    "StudyError",
    "StudyFileError",
    "load_study",
    "report",
    "run",
    "status",
    "verify",
]
