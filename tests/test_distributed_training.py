"""DDP training under torch.distributed: 2 forked processes, gloo on CPU, tiny widths.

Each child sets torchrun's variables (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT)
and calls ``train``, which joins the process group exactly as under torchrun. Covered: the
sharded batch stream, identical parameters and buffers on every rank (with the centroid fitted
sharded and its gradient going through DDP), rank 0 alone writing, exact resume under 2 ranks,
the consistency check's error, and a failing or stalled rank ending the job within the timeout.
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from helpers import free_port
from tiny_runs import TINY as SINGLE_PROCESS_TINY
from torch import nn

from gan_regularizers import CentroidLoss, hookimpl
from gan_regularizers.data.synthetic import synthetic_images
from gan_regularizers.errors import GanRegularizersError
from gan_regularizers.training.batch_stream import BatchStream
from gan_regularizers.training.checkpoint import load_checkpoint
from gan_regularizers.training.consistency import named_state
from gan_regularizers.training.ddp import rank_seed
from gan_regularizers.training.loop import train
from gan_regularizers.training.metrics_log import read_metrics

TINY = {**SINGLE_PROCESS_TINY, "device": "cpu", "check_consistency": True, "dist_timeout_s": 20}


class PixelFeatures(nn.Module):
    """An elementwise frozen "backbone" for 1×32×32 images (1024-d features)."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.sin(3 * images.flatten(1))


class RankLocal(nn.Module):
    """A regularizer whose buffer holds the rank: the ranks diverge, the check must say where."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("offset", torch.tensor(float(dist.get_rank())))

    def forward(self, fake: torch.Tensor) -> torch.Tensor:
        return 0 * fake.mean()


class MisbehaveOnRank(nn.Module):
    """On rank ``rank`` at call ``step``: raise (``action="raise"``) or stall for 60 s."""

    def __init__(self, rank: int = 1, step: int = 2, action: str = "raise") -> None:
        super().__init__()
        self.rank, self.step, self.action, self.calls = rank, step, action, 0

    def forward(self, fake: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if dist.get_rank() == self.rank and self.calls == self.step:
            if self.action == "raise":
                raise RuntimeError(f"boom on rank {self.rank} at step {self.step}")
            time.sleep(60)
        return 0 * fake.mean()


class GradientPenalty(nn.Module):
    """R1-like, discriminator side: ``γ/2 · E‖∇ₓ D(T(x))‖²``, D called again through the batch."""

    side = "discriminator"

    def __init__(self, gamma: float = 1.0) -> None:
        super().__init__()
        self.gamma = gamma

    def forward(self, batch) -> torch.Tensor:
        real = batch.real.detach().requires_grad_(True)
        logits = batch.discriminator(real)
        (gradient,) = torch.autograd.grad(logits.sum(), real, create_graph=True)
        return self.gamma / 2 * gradient.square().flatten(1).sum(1).mean()


class Jitter(nn.Module):
    """An augmentation with per-rank random draws: ``x + 0.05 ε``."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return images + 0.05 * torch.randn_like(images)


class DistributedTestRegularizers:
    @hookimpl
    def register_augmentations(self, register):
        register("jitter", Jitter)

    @hookimpl
    def register_regularizers(self, register):
        register("gradient-penalty-test", GradientPenalty)
        register(
            "pixel-centroid",
            lambda weight=0.5: CentroidLoss(PixelFeatures(), weight=weight, progress=False),
        )
        register("rank-local", RankLocal)
        register("misbehave", MisbehaveOnRank)


@pytest.fixture(autouse=True)
def test_regularizers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, register_plugin) -> None:
    """Registered before the fork, so the children inherit them; caches go to tmp_path."""
    monkeypatch.setenv("GAN_REGULARIZERS_CACHE", str(tmp_path / "cache"))
    register_plugin(DistributedTestRegularizers(), "distributed-test-regularizers")


@pytest.fixture(scope="module", autouse=True)
def warm_imports(tmp_path_factory: pytest.TempPathFactory) -> None:
    """One single-process step first: the forked children then share its imports (fast)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train(**TINY, steps=1, run_dir=str(tmp_path_factory.mktemp("warm") / "run"))
    finally:
        torch.set_num_threads(threads)


def _as_torchrun(rank: int, job: Callable[..., Any], world_size: int, port: int, args: tuple):
    torch.set_num_threads(1)
    os.environ.update(
        RANK=str(rank),
        WORLD_SIZE=str(world_size),
        LOCAL_RANK=str(rank),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    job(rank, *args)


def launch(job: Callable[..., Any], *args: Any, world_size: int = 2) -> None:
    """Run ``job(rank, *args)`` in ``world_size`` forked processes with torchrun's variables."""
    mp.start_processes(
        _as_torchrun,
        args=(job, world_size, free_port(), args),
        nprocs=world_size,
        start_method="fork",
    )


def _train_and_save(rank: int, out: str, options: dict, resume: str | None) -> None:
    try:
        result = train(**options) if resume is None else train(resume=resume, **options)
    except BaseException:
        Path(f"{out}.error.{rank}").write_text(traceback.format_exc())  # what this rank raised
        raise
    modules = {"generator": result.generator, "discriminator": result.discriminator}
    modules.update(result.regularizers)
    state = {k: v.clone() for k, v in named_state(modules).items()}
    torch.save((state, result.report is not None), f"{out}.{rank}")


def saved(out: Path, world_size: int = 2) -> list[Any]:
    return [torch.load(f"{out}.{rank}", weights_only=False) for rank in range(world_size)]


# -- the sharded batch stream ------------------------------------------------------------------


def test_ranks_take_disjoint_slices_that_make_up_the_global_batch() -> None:
    data = synthetic_images(16, image_size=32)
    single = BatchStream(data, 8, seed=3)
    shards = [BatchStream(data, 8, seed=3, rank=r, world_size=2) for r in range(2)]
    streams = [iter(single), *(iter(s) for s in shards)]
    for _ in range(5):  # 2.5 epochs
        whole, first, second = (next(s) for s in streams)
        assert first.shape[0] == second.shape[0] == 4
        assert torch.equal(torch.cat([first, second]), whole)
    assert shards[0].state_dict() == shards[1].state_dict() == single.state_dict()
    resumed = BatchStream(data, 8, seed=3, rank=1, world_size=2)
    resumed.load_state_dict(single.state_dict())  # one checkpoint resumes every rank
    assert torch.equal(next(iter(resumed)), next(iter(shards[1])))


def test_a_batch_size_the_ranks_cannot_share_is_refused() -> None:
    with pytest.raises(GanRegularizersError, match=r"batch_size 10 is not divisible by the 4"):
        BatchStream(synthetic_images(16, image_size=32), 10, rank=0, world_size=4)


def test_ranks_have_their_own_seeds() -> None:
    assert rank_seed(7, 0) == 7  # a single process is unchanged
    seeds = {rank_seed(seed, rank) for seed in range(3) for rank in range(4)}
    assert len(seeds) == 12  # seed 0 rank 1 is not seed 1 rank 0


# -- DDP training ------------------------------------------------------------------------------


def test_ddp_steps_keep_every_rank_identical_and_rank_zero_writes(tmp_path: Path) -> None:
    run = tmp_path / "run"
    options = {**TINY, "steps": 4, "log_every": 2, "sample_every": 2, "run_dir": str(run)}
    options["regularizers"] = ["pixel-centroid:weight=0.5"]
    launch(_train_and_save, str(tmp_path / "state"), options, None)
    (rank0, wrote0), (rank1, wrote1) = saved(tmp_path / "state")
    assert (wrote0, wrote1) == (True, False)
    assert rank0.keys() == rank1.keys() and len(rank0) > 20
    assert all(torch.equal(rank0[name], rank1[name]) for name in rank0)
    # fitted sharded on all 16 images, identically; told the training step (set_step) each step
    assert int(rank0["pixel-centroid.center_counts"].sum()) == 16  # num_images is derived
    assert int(rank0["pixel-centroid.steps"]) == 4
    names = {p.relative_to(run).as_posix() for p in run.rglob("*") if p.is_file()}
    assert names == {
        "config.toml", "checkpoint.pt", "metrics.jsonl", "losses.png", "d_outputs.png",
        "report.md", "history.jsonl", "samples/step_000002.png", "samples/step_000004.png",
    }  # fmt: skip
    rows = read_metrics(run)
    assert [row["step"] for row in rows] == [2, 4]
    assert all(row["loss_g"] == pytest.approx(row["loss_g_adv"] + row["reg/pixel-centroid"])
               for row in rows)  # fmt: skip
    checkpoint = load_checkpoint(run)
    assert checkpoint["world_size"] == 2 and len(checkpoint["rng_per_rank"]) == 2
    assert "(2 processes, DistributedDataParallel)" in (run / "report.md").read_text()
    # the generator the checkpoint holds is the one every rank holds
    for name, value in checkpoint["generator"].items():
        assert torch.equal(value, rank1[f"generator.{name}"])


def test_ddp_with_a_discriminator_penalty_augmentation_and_ema(tmp_path: Path) -> None:
    run = tmp_path / "run"
    options = {**TINY, "steps": 3, "log_every": 1, "run_dir": str(run), "ema_decay": 0.9}
    options.update(augment="jitter", regularizers=["gradient-penalty-test:gamma=10,every=2"])
    launch(_train_and_save, str(tmp_path / "state"), options, None)
    (rank0, _), (rank1, _) = saved(tmp_path / "state")
    assert all(torch.equal(rank0[name], rank1[name]) for name in rank0)  # D, G identical
    rows = read_metrics(run)
    assert [row["reg/gradient-penalty-test"] > 0 for row in rows] == [True, False, True]
    checkpoint = load_checkpoint(run)
    assert "generator_ema" in checkpoint
    for name, value in checkpoint["generator"].items():
        assert torch.equal(value, rank1[f"generator.{name}"])


class OwnGenerator(nn.Module):
    """A user's generator (no registered architecture): z → 1×32×32 through one linear layer."""

    def __init__(self, z_dim: int) -> None:
        super().__init__()
        self.z_dim, self.linear = z_dim, nn.Linear(z_dim, 32 * 32)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.linear(z.flatten(1))).view(-1, 1, 32, 32)


def own_networks(seed: int) -> tuple[nn.Module, nn.Module]:
    """The user's G and D, built differently on each rank (DDP must make them equal)."""
    torch.manual_seed(seed)
    return OwnGenerator(8), nn.Sequential(nn.Flatten(), nn.Linear(32 * 32, 1))


def _train_own_networks(rank: int, out: str, options: dict) -> None:
    generator, discriminator = own_networks(seed=100 + rank)
    _train_and_save(rank, out, {**options, "generator": generator,
                                "discriminator": discriminator}, None)  # fmt: skip


def test_ddp_with_the_users_own_modules(tmp_path: Path) -> None:
    run = tmp_path / "run"
    options = {**TINY, "steps": 3, "log_every": 1, "run_dir": str(run)}
    launch(_train_own_networks, str(tmp_path / "state"), options)
    (rank0, wrote0), (rank1, wrote1) = saved(tmp_path / "state")
    assert (wrote0, wrote1) == (True, False)
    assert all(torch.equal(rank0[name], rank1[name]) for name in rank0)  # rank 0's start won
    start = own_networks(seed=100)[0].state_dict()
    assert not torch.equal(rank0["generator.linear.weight"], start["linear.weight"])  # trained
    checkpoint = load_checkpoint(run)
    assert checkpoint["world_size"] == 2
    assert checkpoint["architecture"]["generator"] == "OwnGenerator"
    for name, value in checkpoint["generator"].items():
        assert torch.equal(value, rank1[f"generator.{name}"])


def test_resume_under_two_ranks_is_bit_exact(tmp_path: Path) -> None:
    options = {**TINY, "log_every": 3, "checkpoint_every": 3}
    options["regularizers"] = ["pixel-centroid:weight=0.5"]
    straight, split = tmp_path / "straight", tmp_path / "split"
    launch(_train_and_save, str(tmp_path / "a"), {**options, "steps": 6, "run_dir": str(straight)},
           None)  # fmt: skip
    launch(_train_and_save, str(tmp_path / "b"), {**options, "steps": 3, "run_dir": str(split)},
           None)  # fmt: skip
    launch(_train_and_save, str(tmp_path / "c"), {"steps": 6}, str(split))
    once, resumed = saved(tmp_path / "a"), saved(tmp_path / "c")
    for rank in range(2):
        assert once[rank][0].keys() == resumed[rank][0].keys()
        for name, value in once[rank][0].items():
            assert torch.equal(value, resumed[rank][0][name]), (rank, name)
    timing = ("images_per_s", "elapsed_s")
    rows = [{k: v for k, v in r.items() if k not in timing} for r in read_metrics(split)]
    assert rows == [{k: v for k, v in r.items() if k not in timing} for r in read_metrics(straight)]
    assert [row["step"] for row in rows] == [3, 6]


# -- failures ------------------------------------------------------------------------------------


def test_the_consistency_check_names_what_differs(tmp_path: Path) -> None:
    options = {**TINY, "steps": 2, "log_every": 2, "regularizers": ["rank-local"]}
    with pytest.raises(mp.ProcessRaisedException) as caught:
        launch(_train_and_save, str(tmp_path / "s"), {**options, "run_dir": str(tmp_path)}, None)
    message = str(caught.value)
    assert "ConsistencyError: consistency check after step 2" in message
    assert (
        "1 tensor(s) differ from rank 0: regularizer[rank-local].offset on rank(s) 1 "
        "(max |difference| 1)" in message
    )
    assert "set check_consistency = false" in message


def test_a_failing_rank_ends_the_job_with_its_error(tmp_path: Path) -> None:
    options = {**TINY, "steps": 4, "regularizers": ["misbehave:rank=1,step=2,action=raise"]}
    out = tmp_path / "s"
    started = time.perf_counter()
    with pytest.raises(mp.ProcessRaisedException) as caught:
        launch(_train_and_save, str(out), {**options, "run_dir": str(tmp_path)}, None)
    assert time.perf_counter() - started < 20
    assert "RuntimeError: boom on rank 1 at step 2" in Path(f"{out}.error.1").read_text()
    # Rank 1's exit breaks rank 0's pending collective at once (no timeout needed). Whichever
    # the launcher saw first, the job's error is rank 1's, or rank 0's pointing at the other rank.
    # (torchrun reports the earliest failure: rank 1's.)
    message = str(caught.value)
    assert "boom on rank 1 at step 2" in message or (
        "Process 0 terminated" in message and "Another rank probably failed" in message
    )
    if Path(f"{out}.error.0").exists():
        assert "Another rank probably failed or stalled first" in Path(f"{out}.error.0").read_text()


def test_a_stalled_rank_makes_the_others_time_out(tmp_path: Path) -> None:
    options = {**TINY, "steps": 4, "dist_timeout_s": 2}
    options["regularizers"] = ["misbehave:rank=1,step=2,action=stall"]
    started = time.perf_counter()
    with pytest.raises(mp.ProcessRaisedException) as caught:
        launch(_train_and_save, str(tmp_path / "s"), {**options, "run_dir": str(tmp_path)}, None)
    message = str(caught.value)
    assert "Process 0 terminated with the following error" in message
    assert "rank 0 of 2: a torch.distributed collective failed or waited longer than " in message
    assert "dist_timeout_s = 2 s" in message
    assert time.perf_counter() - started < 20  # not the 60 s the stalled rank sleeps


def test_device_names_that_cannot_work_are_clear_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    from gan_regularizers.distributed import DistributedError, device_for_rank
    from gan_regularizers.training.config import ConfigError

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert device_for_rank("auto") == torch.device("cpu")
    with pytest.raises(DistributedError, match=r"CUDA is not available here\. Use --device cpu"):
        device_for_rank("cuda")
    with pytest.raises(ConfigError, match="config key 'device': 'cuda:1' was asked for"):
        train(**TINY | {"device": "cuda:1"}, steps=1)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert device_for_rank("auto", local_rank=3, world_size=4) == torch.device("cuda", 3)
    assert device_for_rank("cuda:1") == torch.device("cuda", 1)  # one process: as given
    with pytest.raises(DistributedError, match="all 4 processes on one GPU"):
        device_for_rank("cuda:0", local_rank=2, world_size=4)
