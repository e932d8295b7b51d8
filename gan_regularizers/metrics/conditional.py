"""Does a class-conditional generator draw the class it is asked for?

For each class ``c`` of ``K``, ``n`` samples ``G(z_i, c)`` are classified by an evaluator
(``predict(images) -> labels``, ``-1`` for a rejected sample), and

``accuracy_c = (1/n) Σ_i 1[predict(G(z_i, c)) = c]``,  ``mean = (1/K) Σ_c accuracy_c``.

A rejected sample counts as wrong. The latents come from ``torch.Generator().manual_seed(seed)``;
the generator runs in eval mode (its BatchNorm running statistics), its mode restored after.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


@dataclass(frozen=True)
class ConditionalAccuracy:
    """Per-class accuracy of the evaluator against the requested label, and their mean."""

    per_class: list[float]
    mean: float
    samples_per_class: int


@torch.no_grad()
def conditional_accuracy(
    generator: nn.Module,
    classifier: Any,
    num_classes: int,
    samples_per_class: int,
    *,
    z_dim: int,
    seed: int = 0,
) -> ConditionalAccuracy:
    """``accuracy_c`` for every class ``c`` of a conditional ``generator`` (see the module)."""
    device = next(generator.parameters()).device
    latents = torch.Generator().manual_seed(seed)
    was_training = generator.training
    generator.eval()  # BatchNorm's running statistics: a batch of one class must not set them
    per_class = []
    try:
        for label in range(num_classes):
            z = torch.randn(samples_per_class, z_dim, generator=latents).to(device)
            labels = torch.full((samples_per_class,), label, dtype=torch.long, device=device)
            predicted = classifier.predict(generator(z, labels).float()).cpu()
            per_class.append(float((predicted == label).double().mean()))
    finally:
        generator.train(was_training)
    return ConditionalAccuracy(per_class, sum(per_class) / num_classes, samples_per_class)
