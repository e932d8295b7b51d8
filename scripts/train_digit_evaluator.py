"""Train the embedded digit evaluator (``mnist-evaluator``) and write its weights into the package.

    python scripts/train_digit_evaluator.py          # about a minute on one CPU thread

Protocol (chosen to differ from ``scripts/train_mnist_networks.py`` in every respect):
``mnist5k_split`` with seed 1 (4,000 training and 1,000
held-out digits); LeNet-5 (``DigitEvaluatorNet``);
SGD with Nesterov momentum 0.9, learning rate 0.05 under a cosine schedule, weight decay 1e-4,
batch 128; augmentation: integer shifts of up to ±3 px and Gaussian pixel noise (σ = 0.05).
Every epoch adds 1,000 fresh non-digits (a quarter each of uniform noise, noise blobs, speckles
and pixel-shuffled training digits, ``gan_regularizers.data.non_digits``) as class 10.

After training it measures, on data it never saw: held-out digit accuracy and acceptance rate,
the acceptance rate of each non-digit kind (fresh seeds), and the linear CKA between its
embedding and the ``mnist-features`` embedding on all 5,000 real digits. It refuses to write
weights that miss the targets (accuracy ≥ 0.97, held-out acceptance ≥ 0.9, every non-digit
kind accepted ≤ 2 %, CKA ≤ 0.8). Paste the printed sha256 into ``plugins/mnist.py``.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from gan_regularizers.data.mnist5k import load_mnist5k, mnist5k_split
from gan_regularizers.data.non_digits import NON_DIGIT_KINDS, non_digit_set
from gan_regularizers.metrics.cka import linear_cka
from gan_regularizers.models.digit_evaluator import (
    REJECT_CLASS,
    DigitEvaluatorNet,
    accepted_digits,
)

ASSETS = Path(__file__).resolve().parents[1] / "gan_regularizers" / "assets"
SPLIT_SEED = 1
EVALUATION_SEED_OFFSET = 10_000


def shift_and_noise(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Shift each image by an integer ±3 px (background fill) and add N(0, 0.05²) noise."""
    batch, _, size, _ = images.shape
    padded = F.pad(images, (3, 3, 3, 3), value=-1.0)
    offsets = torch.randint(0, 7, (batch, 2), generator=generator)
    moved = torch.stack(
        [padded[i, :, y : y + size, x : x + size] for i, (y, x) in enumerate(offsets.tolist())]
    )
    noise = 0.05 * torch.randn(moved.shape, generator=generator)
    return (moved + noise).clamp(-1.0, 1.0)


def negatives(count: int, seed: int, digits: torch.Tensor) -> torch.Tensor:
    """``count`` non-digits, an equal share of every kind, from ``seed``."""
    share = math.ceil(count / len(NON_DIGIT_KINDS))
    parts = [
        non_digit_set(
            kind,
            share,
            seed=seed + index,
            digits=digits[
                torch.randperm(digits.shape[0], generator=torch.Generator().manual_seed(seed))
            ],
        )
        for index, kind in enumerate(NON_DIGIT_KINDS)
    ]
    return torch.cat(parts)[:count]


def train(model: DigitEvaluatorNet, images: torch.Tensor, labels: torch.Tensor, args: Any) -> None:
    """SGD-Nesterov + cosine schedule; each epoch mixes fresh non-digits in as class 10."""
    generator = torch.Generator().manual_seed(args.seed)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=args.lr, momentum=0.9, nesterov=True, weight_decay=1e-4
    )
    per_epoch = images.shape[0] + args.negatives
    total_steps = args.epochs * math.ceil(per_epoch / args.batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, total_steps)
    for epoch in range(args.epochs):
        fake = negatives(args.negatives, seed=args.seed * 1000 + epoch, digits=images)
        data = torch.cat([images, fake])
        targets = torch.cat([labels, torch.full((fake.shape[0],), REJECT_CLASS)])
        order = torch.randperm(data.shape[0], generator=generator)
        model.train()
        seen, total = 0, 0.0
        for start in range(0, data.shape[0], args.batch_size):
            index = order[start : start + args.batch_size]
            logits = model(shift_and_noise(data[index], generator))
            loss = F.cross_entropy(logits, targets[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item() * index.numel()
            seen += index.numel()
        print(f"  epoch {epoch + 1:2d}/{args.epochs}: loss {total / seen:.4f}", file=sys.stderr)
    model.eval()


@torch.no_grad()
def measure(
    model: DigitEvaluatorNet,
    held: torch.Tensor,
    held_labels: torch.Tensor,
    all_images: torch.Tensor,
) -> dict[str, Any]:
    """Held-out accuracy/acceptance, each non-digit kind's acceptance, CKA to mnist-features."""
    from gan_regularizers.plugin_system.registry import get_feature_space

    logits = model(held)
    accepted = accepted_digits(logits)
    result: dict[str, Any] = {
        "held_out_accuracy": float((logits[:, :10].argmax(1) == held_labels).float().mean()),
        "held_out_accepted": float((accepted >= 0).float().mean()),
        "held_out_accepted_and_correct": float((accepted == held_labels).float().mean()),
        "non_digits_accepted": {},
    }
    for index, kind in enumerate(NON_DIGIT_KINDS):
        images = non_digit_set(kind, 1000, seed=EVALUATION_SEED_OFFSET + index, digits=held)
        result["non_digits_accepted"][kind] = float(
            (accepted_digits(model(images)) >= 0).float().mean()
        )
    reference = get_feature_space("mnist-features")
    result["linear_cka_to_mnist_features"] = linear_cka(
        torch.cat([model.embed(c) for c in all_images.split(500)]),
        torch.cat([reference(c) for c in all_images.split(500)]),
    )
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ASSETS / "mnist_evaluator.pt")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--negatives", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    images, labels = load_mnist5k(32)
    train_index, held_index = mnist5k_split(seed=SPLIT_SEED, held_out=1000)
    torch.manual_seed(args.seed)
    model = DigitEvaluatorNet()
    started = time.perf_counter()
    train(model, images[train_index], labels[train_index], args)
    seconds = time.perf_counter() - started
    result = measure(model, images[held_index], labels[held_index], images)
    failures = [
        *(["accuracy"] if result["held_out_accuracy"] < 0.97 else []),
        *(["acceptance"] if result["held_out_accepted"] < 0.9 else []),
        *[k for k, v in result["non_digits_accepted"].items() if v > 0.02],
        *(["cka"] if result["linear_cka_to_mnist_features"] > 0.8 else []),
    ]
    summary = {
        "architecture": model.architecture,
        "split_seed": SPLIT_SEED,
        "seed": args.seed,
        "epochs": args.epochs,
        "train_seconds": round(seconds, 1),
        "torch": torch.__version__,
        "python": platform.python_version(),
        **result,
    }
    print(json.dumps(summary, indent=2))
    if failures:
        raise SystemExit(f"targets missed ({', '.join(failures)}); nothing was written.")
    from gan_regularizers.files.atomic import atomic_write

    atomic_write(args.out, lambda file: torch.save(model.state_dict(), file))
    import hashlib

    print(f"{hashlib.sha256(args.out.read_bytes()).hexdigest()}  {args.out}")
    return summary


if __name__ == "__main__":
    main()
