"""Checkpoints that are damaged, edited or from another version are refused clearly (issue 23).

* 256 flipped bytes inside G's weights used to resume silently (torch checks no CRC on tensor
  data): each checkpoint now stores the sha256 of its content, and a mismatch names the file and
  the last good checkpoint (``checkpoint.previous.pt``) when there is one;
* a checkpoint whose config does not match its weights was "an unexpected internal error";
* a checkpoint from a newer version with a config key this one does not know names the version
  that wrote it and the key.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from installed_command import run_command
from tiny_runs import TINY

from gan_regularizers import train
from gan_regularizers.errors import CheckpointError
from gan_regularizers.files.torch_files import atomic_torch_save
from gan_regularizers.training.checkpoint import (
    CHECKPOINT_NAME,
    PREVIOUS_NAME,
    content_sha256,
    load_checkpoint,
    save_atomic,
)
from gan_regularizers.training.run_loading import load_run


@pytest.fixture
def run(tmp_path: Path) -> Path:
    """A 4-step run checkpointed at steps 2 and 4 (the step-2 file kept as the previous one)."""
    folder = tmp_path / "run"
    train(**TINY, steps=4, checkpoint_every=2, run_dir=str(folder))
    return folder


def _flip_generator_bytes(path: Path, count: int = 256) -> str:
    """Invert ``count`` bytes inside G's largest weight, in place; return the weight's name."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    name, weight = max(state["generator"].items(), key=lambda item: item[1].numel())
    data = weight.contiguous().numpy().tobytes()
    assert len(data) >= count
    raw = bytearray(path.read_bytes())
    start = raw.find(data)
    assert start >= 0 and raw.find(data, start + 1) < 0  # the weight's bytes, found once
    raw[start : start + count] = bytes(b ^ 0xFF for b in raw[start : start + count])
    with open(path, "r+b") as handle:  # in place, as damage on disk would be
        handle.write(raw)
    return name


def test_a_checkpoint_stores_the_sha256_of_its_content(run: Path) -> None:
    state = load_checkpoint(run)
    assert state["step"] == 4 and state["sha256"] == content_sha256(state)
    assert load_checkpoint(run / PREVIOUS_NAME)["step"] == 2
    changed = {**state, "step": 5}
    assert content_sha256(changed) != state["sha256"]
    weights = {k: v.clone() for k, v in state["generator"].items()}
    next(iter(weights.values())).view(-1)[0] += 1e-6
    assert content_sha256({**state, "generator": weights}) != state["sha256"]


def test_flipped_bytes_in_the_generators_weights_are_refused_naming_the_good_file(
    run: Path,
) -> None:
    _flip_generator_bytes(run / CHECKPOINT_NAME)
    with pytest.raises(CheckpointError) as caught:
        train(resume=run, steps=6)
    message = str(caught.value)
    assert f"{run / CHECKPOINT_NAME} is damaged" in message
    assert f"The previous checkpoint {run / PREVIOUS_NAME} (step 2) is intact" in message
    with pytest.raises(CheckpointError, match="is damaged"):
        load_run(run)
    os.replace(run / PREVIOUS_NAME, run / CHECKPOINT_NAME)  # the advice works
    assert train(resume=run, steps=3).step == 3


def test_a_damaged_checkpoint_without_a_previous_one_says_so(run: Path) -> None:
    (run / PREVIOUS_NAME).unlink()
    _flip_generator_bytes(run / CHECKPOINT_NAME)
    with pytest.raises(CheckpointError, match=r"is damaged.*No earlier checkpoint of this run"):
        load_checkpoint(run)


def test_the_installed_command_refuses_a_damaged_checkpoint_in_one_line(run: Path) -> None:
    _flip_generator_bytes(run / CHECKPOINT_NAME)
    code, errors, stderr = run_command("train", "--resume", str(run), "--steps", "6")
    assert code == 1 and len(errors) == 1, stderr
    assert errors[0].startswith("gan-regularizers train: error: ")
    assert f"{run / CHECKPOINT_NAME} is damaged" in errors[0] and "(step 2)" in errors[0]


def test_a_config_that_does_not_fit_the_weights_is_a_clear_error(run: Path) -> None:
    state = load_checkpoint(run)
    state["config"]["g_width"] = 8  # the weights were trained with g_width = 4
    save_atomic(state, run / CHECKPOINT_NAME)
    with pytest.raises(CheckpointError) as caught:
        train(resume=run, steps=6)
    message = str(caught.value)
    assert "the saved generator and discriminator do not fit" in message
    assert "g_width=8" in message and "size mismatch" in message


def test_a_checkpoint_from_a_newer_version_names_the_version_and_the_key(run: Path) -> None:
    state = load_checkpoint(run)
    state["config"]["hyper_drive"] = True
    state["package_version"] = "9.1.0"
    state["sha256"] = content_sha256(state)
    atomic_torch_save(state, run / CHECKPOINT_NAME)
    with pytest.raises(CheckpointError) as caught:
        train(resume=run, steps=6)
    message = str(caught.value)
    assert "written by gan-regularizers 9.1.0" in message
    assert "does not know: hyper_drive" in message and "version that wrote it" in message
