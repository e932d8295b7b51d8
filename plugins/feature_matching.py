"""Feature matching (Salimans et al., 2016), a generator regularizer in D's feature space.

With ``f`` the discriminator's penultimate features (``D.features``, ``B×d``), ``T`` the
augmentation, real images ``x`` and fakes ``x̂``, the means ``m = (1/B) Σ_i f(T(x_i))`` and
``m̂ = (1/B) Σ_j f(T(x̂_j))``:

* ``distance="l1"`` (StudioGAN's form, the default): ``λ · (1/d) Σ_k |m̂_k − m_k|``;
* ``distance="l2"``: ``λ · (1/d) Σ_k (m̂_k − m_k)²`` (Salimans et al.'s ``‖m̂ − m‖²`` over ``d``).

The real mean is taken without gradient; the fake mean passes gradients to G through the frozen
D. It is the centroid constraint's classical relative: both pull generated features towards the
real ones, but here in D's moving space and on the mean only (no radius). It needs a
discriminator with a ``features(images[, labels])`` member
(``discriminator_features``) and declares
``needs_batch = True``, so the loop passes it a
``GeneratorBatch``.
"""

from __future__ import annotations

import torch
from torch import nn

from gan_regularizers.errors import InvalidOptionError
from gan_regularizers.plugin_system.contracts import GeneratorBatch, discriminator_features
from gan_regularizers.plugin_system.hookspecs import Register, hookimpl
from gan_regularizers.plugins.gradient_penalties import check_weight

DISTANCES = ("l1", "l2")


def feature_matching_distance(
    real_features: torch.Tensor, fake_features: torch.Tensor, distance: str = "l1"
) -> torch.Tensor:
    """``(1/d) Σ_k |m̂_k − m_k|`` (l1) or ``(1/d) Σ_k (m̂_k − m_k)²`` (l2) of the batch means."""
    difference = fake_features.float().mean(dim=0) - real_features.float().mean(dim=0)
    return difference.abs().mean() if distance == "l1" else difference.square().mean()


class FeatureMatching(nn.Module):
    """``λ ·`` the distance between the batch means of D's features on real and fake images."""

    side = "generator"
    needs_batch = True

    def __init__(self, weight: float = 1.0, distance: str = "l1") -> None:
        super().__init__()
        self.weight = check_weight(weight, name="feature-matching", option="weight")
        if distance not in DISTANCES:
            raise InvalidOptionError(
                f"feature-matching: distance must be 'l1' (StudioGAN's) or 'l2', got "
                f"{distance!r}; e.g. feature-matching:distance=l2."
            )
        self.distance = distance

    def forward(self, batch: GeneratorBatch) -> torch.Tensor:
        """The weighted distance, ready to add to L_G."""
        augment = batch.augment or (lambda images: images)
        with torch.no_grad():
            real = discriminator_features(batch.discriminator, augment(batch.real), batch.labels)
        fake = discriminator_features(batch.discriminator, augment(batch.fake), batch.labels)
        return self.weight * feature_matching_distance(real, fake, self.distance)

    def extra_repr(self) -> str:
        return f"weight={self.weight}, distance={self.distance!r}"


@hookimpl
def register_regularizers(register: Register) -> None:
    register("feature-matching", FeatureMatching)
