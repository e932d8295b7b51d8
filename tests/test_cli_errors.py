"""The CLI's error contract: a user's mistake is one line on stderr that says what was wrong and
what to do, a non-zero exit and no traceback (``--debug`` shows it)."""

from __future__ import annotations

import errno
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from tiny_runs import TINY

from gan_regularizers import cli
from gan_regularizers.cli import error_line, main
from gan_regularizers.errors import UnknownNameError

# Words that tell the user what was expected or what to do next.
ADVICE = re.compile(
    r"\b(did you mean|expected|expects|must|needs?|pass|use|choose|give|install|write|remove|"
    r"lower|run|see|check|point|try|fit|add|convert|accepts)\b",
    re.IGNORECASE,
)
PROGRESS_BAR = re.compile(r"\d+%\|")
SYNTHETIC_TRAIN = [
    "--data=synthetic:num_images=16",
    "--batch-size=8",
    "--steps=1",
    "--set=architecture=dcgan:g_width=4,d_width=4",
    "--set=z_dim=8",
    "--quiet",
]


# (id, argv with {tmp} and {run} placeholders, regexes the error line must hold, exit status)
CASES = [
    # -- fit ----------------------------------------------------------------------------------
    (
        "fit-unknown-feature-space",
        "fit --feature-space mnist-feats --out {tmp}/a.pt",
        [r"Unknown feature space 'mnist-feats'", r"Did you mean 'mnist-features'"],
        1,
    ),
    (
        "fit-out-is-a-folder",
        "fit --feature-space mnist-features --out {tmp}/folder",
        [r"--out \S+folder is a folder", r"statistics\.pt"],
        1,
    ),
    (
        "fit-out-exists",
        "fit --feature-space mnist-features --out {tmp}/user.pt",
        [r"already exists", r"--overwrite"],
        1,
    ),
    (
        "fit-out-under-a-file",
        "fit --feature-space mnist-features --out {tmp}/user.pt/stats.pt",
        [r"user\.pt is a file, not a folder", r"another --out"],
        1,
    ),
    (
        "fit-one-image",
        "fit --feature-space mnist-features --out {tmp}/a.pt --max-images 1",
        [r"--max-images must be at least 2", r"got 1"],
        1,
    ),
    (
        "fit-zero-batch",
        "fit --feature-space mnist-features --out {tmp}/a.pt --batch-size 0",
        [r"--batch-size must be a positive integer", r"got 0"],
        1,
    ),
    (
        "fit-missing-data-folder",
        "fit --feature-space mnist-features --out {tmp}/a.pt --data folder:{tmp}/no-images",
        [r"no-images: no such folder", r"--data folder:"],
        1,
    ),
    (
        "fit-unknown-dataset",
        "fit --feature-space mnist-features --out {tmp}/a.pt --data imagenet",
        [r"'imagenet'", r"mnist5k"],
        1,
    ),
    (
        "fit-bad-option-value",
        "fit --feature-space mnist-features:radius=bogus --out {tmp}/a.pt",
        [r"radius must be 'mean' or 'quantile'", r"'bogus'"],
        1,
    ),
    (
        "fit-bad-spec-syntax",
        "fit --feature-space mnist-features:radius --out {tmp}/a.pt",
        [r"'radius' is not key=value"],
        1,
    ),
    (
        "fit-unknown-option",
        "fit --feature-space mnist-features:colour=1 --out {tmp}/a.pt",
        [r"unknown option\(s\) colour", r"accepts"],
        1,
    ),
    (
        "fit-bad-device",
        "fit --feature-space mnist-features --out {tmp}/a.pt --device tpu",
        [r"'tpu' is not a device", r"cpu"],
        1,
    ),
    (
        "fit-rgb-space-on-grayscale-data",
        "--threads 1 fit --feature-space vgg16:pretrained=false --max-images 2 "
        "--device cpu --no-cache --out {tmp}/a.pt",
        [r"1 channel", r"3 channels", r"grayscale='repeat'"],
        1,
    ),
    # -- the command line itself --------------------------------------------------------------
    ("negative-threads", "--threads -1 plugins", [r"threads must be an integer ≥ 0"], 1),
    ("unknown-command", "nosuch", [r"invalid choice: 'nosuch'", r"--help"], 2),
    ("not-an-integer", "train --steps ten", [r"invalid int value: 'ten'", r"--help"], 2),
    # -- train --------------------------------------------------------------------------------
    (
        "train-unknown-loss",
        "train --loss bcee --out {tmp}/r",
        [r"Unknown loss 'bcee'", r"Did you mean 'bce'"],
        1,
    ),
    (
        "train-unknown-regularizer",
        "train --regularizer centroidd --out {tmp}/r",
        [r"Unknown regularizer 'centroidd'", r"Did you mean 'centroid'"],
        1,
    ),
    (
        "train-unknown-set-key",
        "train --set g_lrr=1e-4 --out {tmp}/r",
        [r"Unknown config key 'g_lrr'", r"Did you mean 'g_lr'"],
        1,
    ),
    (
        "train-bad-set-value",
        "train --set g_lr=fast --out {tmp}/r",
        [r"'g_lr'", r"expected a number", r"'fast'"],
        1,
    ),
    (
        "train-set-without-value",
        "train --set g_lr --out {tmp}/r",
        [r"--set expects KEY=VALUE", r"'g_lr'"],
        1,
    ),
    (
        "train-resume-without-checkpoint",
        "train --resume {tmp}/folder",
        [r"no checkpoint at \S+checkpoint\.pt", r"run folder"],
        1,
    ),
    ("train-negative-steps", "train --steps -1 --out {tmp}/r", [r"'steps'", r"-1"], 1),
    (
        "train-missing-config",
        "train --config {tmp}/missing.toml",
        [r"missing\.toml", r"does not exist"],
        1,
    ),
    pytest.param(
        "train-bad-toml",
        "train --config {tmp}/bad.toml",
        [r"bad\.toml", r"line 1"],
        1,
        id="train-bad-toml",
    ),
    (
        "train-missing-data-folder",
        "train --data folder:{tmp}/no-images --out {tmp}/r",
        [r"no-images: no such folder"],
        1,
    ),
    (
        "train-bad-spec-syntax",
        "train --regularizer centroid:weight --out {tmp}/r",
        [r"'weight' is not key=value"],
        1,
    ),
    ("train-bad-amp", "train --amp fp8 --out {tmp}/r", [r"'amp'", r"'fp8'", r"bf16"], 1),
    ("train-bad-device", "train --device tpu --out {tmp}/r", [r"'tpu'"], 1),
    pytest.param(
        "train-into-a-folder-of-user-files",
        "train --out {tmp}/user-folder " + " ".join(SYNTHETIC_TRAIN),
        [r"user-folder", r"report\.md|not a run|not empty"],
        1,
        id="train-into-a-folder-of-user-files",
    ),
    # -- eval and compare ---------------------------------------------------------------------
    (
        "eval-a-folder-that-is-not-a-run",
        "eval {tmp}/folder",
        [r"no checkpoint at", r"run folder"],
        1,
    ),
    ("eval-a-missing-run", "eval {tmp}/missing-run", [r"missing-run"], 1),
    (
        "eval-unknown-metric",
        "eval {run} --metrics fidd",
        [r"Unknown metric 'fidd'", r"Did you mean 'fid'"],
        1,
    ),
    (
        "eval-unknown-space",
        "eval {run} --metrics fd:vgg17",
        [r"'vgg17'", r"Did you mean 'vgg16'"],
        1,
    ),
    pytest.param(
        "eval-missing-inception-weights",
        "eval {run} --metrics fid:weights={tmp}/missing.pth",
        [r"missing\.pth", r"does not exist|no such"],
        1,
        id="eval-missing-inception-weights",
    ),
    ("eval-zero-samples", "eval {run} --num-samples 0", [r"at least 2", r"got 0"], 1),
    ("compare-one-run", "compare {run}", [r"at least two runs", r"got 1"], 1),
    ("compare-a-missing-run", "compare {run} {tmp}/missing-run", [r"missing-run"], 1),
    ("demo-zero-steps", "demo --steps 0 --out {tmp}/demo", [r"--steps", r"positive"], 1),
]


@pytest.fixture(scope="module")
def places(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A finished tiny run, an empty folder, a user's file and a folder of a user's files."""
    from gan_regularizers.training.loop import train

    tmp = tmp_path_factory.mktemp("cli-errors")
    train(**TINY, steps=1, run_dir=str(tmp / "run"))
    (tmp / "folder").mkdir()
    (tmp / "user.pt").write_bytes(b"the user's own file")
    (tmp / "bad.toml").write_text("steps = = 3\n")
    (tmp / "user-folder").mkdir()
    (tmp / "user-folder" / "report.md").write_text("my notes\n")
    return {"tmp": tmp, "run": tmp / "run"}


def _argv(template: str, places: dict[str, Path]) -> list[str]:
    return template.format(tmp=places["tmp"], run=places["run"]).split()


def _error_lines(stderr: str) -> list[str]:
    """Every stderr line but our one-line warnings and progress bars (``\\r``-separated)."""
    return [
        line
        for line in stderr.splitlines()
        if line.strip() and ": warning: " not in line and not PROGRESS_BAR.search(line)
    ]


@pytest.mark.parametrize(
    ("case", "template", "expected", "status"),
    [pytest.param(*c, id=c[0]) if type(c) is tuple else c for c in CASES],
)
def test_a_mistake_is_one_line_that_says_what_to_do(
    case: str,
    template: str,
    expected: list[str],
    status: int,
    places: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GAN_REGULARIZERS_CACHE", str(places["tmp"] / "cache"))
    argv = _argv(template, places)
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's usage errors
        code = exit_.code
    captured = capsys.readouterr()
    assert code == status, captured.err
    assert "Traceback" not in captured.err
    lines = _error_lines(captured.err)
    assert len(lines) == 1, captured.err
    command = next((a for a in argv if a in {*cli.SUB_COMMANDS, "plugins"}), None)
    prefix = f"gan-regularizers {command}: error: " if command else "gan-regularizers: error: "
    assert lines[0].startswith(prefix), lines[0]
    for pattern in expected:
        assert re.search(pattern, lines[0]), f"{pattern!r} not in {lines[0]!r}"
    message = lines[0].removeprefix(prefix).replace(f"({cli.DEBUG_HINT})", "")
    assert ADVICE.search(message), f"no advice in {lines[0]!r}"


def test_the_table_has_at_least_25_mistakes() -> None:
    assert len(CASES) >= 25


def test_a_refused_fit_leaves_the_users_file_alone(places: dict[str, Path]) -> None:
    assert main(_argv("fit --feature-space mnist-features --out {tmp}/user.pt", places)) == 1
    assert (places["tmp"] / "user.pt").read_bytes() == b"the user's own file"


@pytest.mark.parametrize("position", ["before", "after"])
def test_debug_shows_the_traceback(position: str) -> None:
    argv = ["train", "--loss", "bcee"]
    argv = ["--debug", *argv] if position == "before" else [*argv, "--debug"]
    with pytest.raises(UnknownNameError, match="Did you mean 'bce'"):
        main(argv)


def test_a_bug_is_one_line_that_points_at_debug(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(args: object) -> int:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(cli, "_run_plugins", broken)
    assert main(["plugins"]) == 1
    err = capsys.readouterr().err
    assert err == (
        "gan-regularizers plugins: error: unexpected internal error (ZeroDivisionError: "
        "division by zero); run with --debug for the traceback and report it.\n"
    )
    with pytest.raises(ZeroDivisionError):
        main(["plugins", "--debug"])


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (
            OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/runs/a/checkpoint.pt"),
            "gan-regularizers train: error: No space left on device: /runs/a/checkpoint.pt. "
            "Free some space on that disk, or choose a folder on another one.",
        ),
        (
            PermissionError(errno.EACCES, os.strerror(errno.EACCES), "/stats.pt"),
            "gan-regularizers train: error: Permission denied: /stats.pt. "
            "Check its permissions, or choose a path you can write to.",
        ),
        (
            IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), "/runs"),
            "gan-regularizers train: error: Is a directory: /runs. "
            "Check the path and its permissions.",
        ),
        (
            KeyError("vgg17"),
            "gan-regularizers train: error: unknown name 'vgg17'. Check the spelling.",
        ),
        (
            ValueError("a\nb"),
            "gan-regularizers train: error: a b (run with --debug for the traceback)",
        ),
    ],
)
def test_builtin_errors_a_user_causes_are_one_line(error: Exception, line: str) -> None:
    assert error_line("train", error) == line


def test_threads_apply_during_the_command_and_are_restored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[int] = []
    monkeypatch.setattr(cli, "_run_plugins", lambda args: seen.append(torch.get_num_threads()))
    before = torch.get_num_threads()
    target = 1 if before != 1 else 2
    main(["--threads", str(target), "plugins"])
    main(["plugins", "--threads", str(target)])
    assert seen == [target, target]
    assert torch.get_num_threads() == before


def test_warnings_are_shown_as_one_line_during_a_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import warnings

    shown: list[str] = []

    def handler(args: object) -> int:
        shown.append(warnings.formatwarning(UserWarning("two\nlines"), UserWarning, "f.py", 1))
        return 0

    monkeypatch.setattr(cli, "_run_plugins", handler)
    before = warnings.formatwarning
    assert main(["plugins"]) == 0
    assert shown == ["gan-regularizers plugins: warning: two lines\n"]
    assert warnings.formatwarning is before


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["train", "--steps", "-1"], "gan-regularizers train: error: config key 'steps'"),
    ],
)
def test_the_installed_command_prints_one_line(
    argv: list[str], expected: str, tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gan_regularizers", *argv],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "GAN_REGULARIZERS_CACHE": str(tmp_path / "cache")},
        timeout=300,
    )
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if ": warning: " not in line]
    assert len(errors) == 1 and errors[0].startswith(f"gan-regularizers {argv[0]}: error: ")
    assert expected in done.stderr and "Traceback" not in done.stderr
