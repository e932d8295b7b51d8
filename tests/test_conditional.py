"""Conditional training and evaluation: labels reach G, D and the per-class centroid, the grid
has one row per class, and ``modes`` on a conditional run scores the requested label."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from gan_regularizers import train
from gan_regularizers.cli import main
from gan_regularizers.metrics.conditional import conditional_accuracy
from gan_regularizers.training.checkpoint import load_checkpoint
from gan_regularizers.training.run_loading import load_run

RESNET = "resnet:g_width=8,d_width=8"


class LabelProbe(nn.Module):
    """A generator-side regularizer that records the labels the loop passes it."""

    side = "generator"

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[torch.Tensor] = []

    def forward(self, fake: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        self.seen.append(labels)
        return fake.sum() * 0


def test_conditional_resnet_on_mnist5k_with_the_per_class_centroid(tmp_path: Path) -> None:
    probe = LabelProbe()
    train(
        None, data="mnist5k", architecture=RESNET, num_classes="auto", steps=2, batch_size=20,
        grid_size=20, quiet=True, tensorboard=False, plots=False, fit_cache=False, threads=1,
        regularizers=["centroid:per_class=true,feature_space=mnist-features", probe],
        run_dir=str(tmp_path / "run"),
    )  # fmt: skip
    assert len(probe.seen) == 2
    for labels in probe.seen:
        assert labels.shape == (20,) and labels.dtype == torch.int64
        assert int(labels.min()) >= 0 and int(labels.max()) <= 9
    assert not torch.equal(probe.seen[0], probe.seen[1])  # each step's real batch's labels
    rows = [json.loads(r) for r in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["reg/centroid"] >= 0
    state = load_checkpoint(tmp_path / "run")
    assert state["config"]["num_classes"] == 10 and state["architecture"]["num_classes"] == 10
    from PIL import Image

    grid = Image.open(tmp_path / "run" / "samples" / "step_000002.png")
    assert grid.size == (2 + 2 * 34, 2 + 10 * 34)  # 10 rows (one per class) of 20 // 10 = 2
    loaded = load_run(tmp_path / "run")
    assert loaded.num_classes == 10
    images = loaded.sampler(torch.randn(10, loaded.z_dim))
    expected = loaded.generator(torch.randn(10, loaded.z_dim), torch.arange(10))
    assert images.shape == expected.shape == (10, 1, 32, 32)


class LabelImages(nn.Module):
    """``G(z, y)``: a 1×4×4 image filled with ``y`` (its one parameter only carries a device)."""

    def __init__(self) -> None:
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(()))

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return labels.float()[:, None, None, None].expand(-1, 1, 4, 4) + 0 * z[:, :1, None, None]


class ScriptedClassifier:
    """Right for classes 0 and 1; for class 2 rejects (-1) every other sample; 3 → always 0."""

    def predict(self, images: torch.Tensor) -> torch.Tensor:
        label = images[:, 0, 0, 0].round().long()
        out = label.clone()
        out[(label == 2) & (torch.arange(len(label)) % 2 == 0)] = -1
        out[label == 3] = 0
        return out


def test_conditional_accuracy_against_a_hand_count() -> None:
    accuracy = conditional_accuracy(LabelImages(), ScriptedClassifier(), 4, 6, z_dim=3)
    assert accuracy.per_class == [1.0, 1.0, 0.5, 0.0]  # class 2: 3 of 6 rejected
    assert accuracy.mean == pytest.approx(2.5 / 4) and accuracy.samples_per_class == 6


@pytest.fixture(scope="module")
def conditional_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("conditional") / "run"
    train(None, data="mnist5k", architecture=RESNET, num_classes="auto", steps=1, batch_size=10,
          quiet=True, tensorboard=False, plots=False, threads=1,
          run_dir=str(folder))  # fmt: skip
    return folder


def test_modes_of_a_conditional_run_scores_the_requested_label(conditional_run: Path) -> None:
    assert main(["eval", str(conditional_run), "--num-samples", "40", "--metrics", "modes",
                 "--quiet"]) == 0  # fmt: skip
    payload = json.loads((conditional_run / "metrics.json").read_text())
    result = payload["metrics"]["modes-requested"]
    protocol = result["protocol"]
    assert len(protocol["per_class_accuracy"]) == 10 and protocol["samples_per_class"] == 4
    from gan_regularizers import get_feature_space

    loaded = load_run(conditional_run)
    expected = conditional_accuracy(loaded.generator, get_feature_space("mnist-evaluator"), 10, 4,
                                    z_dim=loaded.z_dim, seed=0)  # fmt: skip
    assert protocol["per_class_accuracy"] == expected.per_class
    assert result["value"] == pytest.approx(expected.mean)


class RecordingClassifier:
    """Predicts class 0 for everything and keeps the images it was shown."""

    def __init__(self) -> None:
        self.seen: list[torch.Tensor] = []

    def predict(self, images: torch.Tensor) -> torch.Tensor:
        self.seen.append(images.clone())
        return torch.zeros(images.shape[0], dtype=torch.long)


def test_conditional_accuracy_uses_running_statistics_and_restores_the_mode() -> None:
    from gan_regularizers import get_architecture

    torch.manual_seed(0)
    g, _ = get_architecture("resnet", image_size=32, channels=1, z_dim=8, num_classes=2,
                            g_width=8)  # fmt: skip
    with torch.no_grad():  # running statistics far from any one batch's
        for module in g.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.fill_(3.0)
    g.eval()
    in_eval, in_train = RecordingClassifier(), RecordingClassifier()
    conditional_accuracy(g, in_eval, 2, 16, z_dim=8)
    g.train()
    accuracy = conditional_accuracy(g, in_train, 2, 16, z_dim=8)
    assert g.training and accuracy.per_class == [1.0, 0.0]
    for a, b in zip(in_eval.seen, in_train.seen, strict=True):
        assert torch.equal(a, b)  # G ran in eval mode both times


def test_the_class_balanced_sampler_keeps_the_generators_mode(conditional_run: Path) -> None:
    loaded = load_run(conditional_run)
    assert not loaded.generator.training
    sampler = loaded.sampler
    was_training = sampler.training  # what GeneratedImages does around its draws
    sampler.eval()
    sampler.train(was_training)
    assert not loaded.generator.training


def label_of(images: torch.Tensor) -> torch.Tensor:
    """The class a :class:`LabelledPixels` image (or a real one of :func:`labelled_data`) shows."""
    return ((images[:, 0].mean((1, 2)) + 1) * 4.5).round().long()


def labelled_data() -> object:
    """32 images of 8×8, each filled with its label y ∈ [0, 10) mapped to y / 4.5 − 1 ∈ [−1, 1]."""
    from gan_regularizers.data.tensors import TensorImages

    labels = torch.arange(32) % 10
    images = (labels.float() / 4.5 - 1)[:, None, None, None].expand(-1, 1, 8, 8).contiguous()
    return TensorImages(images, labels, "labelled")


class LabelledPixels(nn.Module):
    """``G(z, y)``: an 8×8 image filled with y / 4.5 − 1 (plus 0 · a trainable layer of z)."""

    def __init__(self) -> None:
        super().__init__()
        self.z_dim, self.layer = 4, nn.Linear(4, 1)

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        shown = (labels.float() / 4.5 - 1)[:, None, None, None].expand(-1, 1, 8, 8)
        return shown + 0 * self.layer(z)[:, :, None, None]


class RecordingCritic(nn.Module):
    """``D(x, y)``: a linear critic that records, per call, the labels ``x`` shows and ``y``."""

    def __init__(self) -> None:
        super().__init__()
        self.linear, self.calls = nn.Linear(64, 1), []

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        self.calls.append((label_of(images.detach()), labels.detach().clone()))
        return self.linear(images.flatten(1)).view(-1)

    def features(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        self.calls.append((label_of(images.detach()), labels.detach().clone()))
        return images.flatten(1)


class FakeSidePenalty(nn.Module):
    """A discriminator-side penalty that evaluates the bound D at the fakes (as R2 does)."""

    side = "discriminator"

    def forward(self, batch) -> torch.Tensor:
        return 0 * batch.discriminator(batch.fake).sum()


class BatchProbe(nn.Module):
    """A generator-side regularizer that takes a GeneratorBatch and records its labels."""

    side, needs_batch = "generator", True

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[torch.Tensor, torch.Tensor]] = []

    def forward(self, batch) -> torch.Tensor:
        self.seen.append((label_of(batch.fake.detach()), batch.labels))
        return 0 * batch.fake.sum()


def test_every_image_d_sees_in_a_conditional_step_carries_its_own_label(tmp_path: Path) -> None:
    """Fakes are drawn for the real batch's labels, so a penalty at the fakes (R2) and
    feature matching's batch see each image with its own class."""
    critic, probe = RecordingCritic(), BatchProbe()
    train(
        None, dataset=labelled_data(), generator=LabelledPixels(), discriminator=critic,
        num_classes=10, image_size=8, steps=3, batch_size=8, grid_size=10, quiet=True,
        tensorboard=False,
        plots=False, threads=1, regularizers=[FakeSidePenalty(), probe, "feature-matching"],
        run_dir=str(tmp_path / "run"),
    )  # fmt: skip
    training_calls = [call for call in critic.calls if len(call[1]) == 8]
    assert len(training_calls) >= 3 * 4  # D(x), D(x̂), the penalty's D(x̂), G's D(x̂), FM × 2
    for shown, given in training_calls:
        assert torch.equal(shown, given)
    assert len(probe.seen) == 3
    for shown, labels in probe.seen:
        assert labels is not None and torch.equal(shown, labels)
