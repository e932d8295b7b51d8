"""Hook specifications: the ways a plugin adds names to gan-regularizers.

Every hook receives a ``register(name, factory)`` callback. A plugin calls it once per name it
provides; ``factory(**options)`` is called later, when a user asks for that name, so a plugin's
module stays cheap to import (heavy libraries are imported inside the factory).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

PROJECT_NAME = "gan_regularizers"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

Register = Callable[[str, Callable[..., Any]], None]


@hookspec
def register_losses(register: Register) -> None:
    """Register adversarial losses.

    Called once per plugin, the first time any loss is listed or looked up (and again after the
    plugin set changes).

    :param register: ``register(name, factory)``; ``factory(**options)`` must return an object with
        ``discriminator_loss(real_logits, fake_logits) -> Tensor`` and
        ``generator_loss(fake_logits, real_logits=None) -> Tensor``, both scalar losses to
        minimise, computed from raw discriminator logits (not probabilities), and optionally a
        ``logit_summary`` (``LogitSummary``) that
        says how to log D's output (see
        ``AdversarialLoss``).

    Notes:
        A name registered by two plugins raises
        ``DuplicateNameError`` naming both, when that name is asked
        for; other names keep working. The built object is checked when built
        (``PluginContractError``).
    """


@hookspec
def register_regularizers(register: Register) -> None:
    """Register regularizers of either player.

    Called once per plugin, the first time any regularizer is listed or looked up.

    :param register: ``register(name, factory)``; ``factory(**options)`` must return a
        ``torch.nn.Module`` with ``side = "generator"`` (the default when absent), whose
        ``forward(fake_images)`` returns a weighted scalar added to the generator loss, or
        ``side = "discriminator"``, whose ``forward(batch)`` receives a
        ``DiscriminatorBatch`` and returns a
        weighted scalar added to the discriminator loss.

    Notes:
        Regularizers that need reference statistics expose ``fit(data)`` and a ``fitted`` flag;
        the training loop calls ``fit`` while ``fitted`` is False. ``fit`` without ``fitted`` is
        refused when the object is built. State lives in registered buffers.
    """


@hookspec
def register_feature_spaces(register: Register) -> None:
    """Register feature spaces (frozen pretrained networks that embed images).

    Called once per plugin, the first time any feature space is listed or looked up.

    :param register: ``register(name, factory)``; ``factory(**options)`` must return a
        ``torch.nn.Module`` whose ``forward(images)`` maps a float batch ``B×3×H×W`` in
        ``[-1, 1]`` to ``B×d`` float32 features. It is frozen, stays in eval mode, passes
        gradients to its input, and has a ``descriptor`` dict that identifies it exactly.
    """


@hookspec
def register_augmentations(register: Register) -> None:
    """Register augmentations applied to everything the discriminator sees.

    Called once per plugin, the first time any augmentation is listed or looked up.

    :param register: ``register(name, factory)``; ``factory(**options)`` must return a
        differentiable ``torch.nn.Module`` with ``forward(images) -> images`` (same shape), which
        the training loop applies to real and fake images before every discriminator call, in the
        discriminator step and the generator step (see
        ``Augmentation``).
    """


@hookspec
def register_metrics(register: Register) -> None:
    """Register metrics usable by name from Python (``metrics.evaluate``), ``eval``, ``compare``
    and ``score``.

    Called once per plugin, the first time any metric is listed or looked up.

    :param register: ``register(name, factory)``; ``factory(**options)`` must return a metric
        object with every member of ``Metric``
        (subclass ``gan_regularizers.metrics.FeatureSpaceMetric`` or ``Metric``). The factory's
        first parameter takes a spec's positional part (``mmd:vgg16`` → ``feature_space``).
    """


@hookspec
def register_datasets(register: Register) -> None:
    """Register datasets usable by name in ``train --data NAME:key=value`` and ``eval``.

    Called once per plugin, the first time any dataset is listed or looked up.

    :param register: ``register(name, factory)``; ``factory(image_size=..., **options)`` must
        return a map-style dataset of ``(image in [-1, 1], label)`` items (see
        ``ImageDataset``).
    """


@hookspec
def register_architectures(register: Register) -> None:
    """Register architectures: a generator and a discriminator built together.

    Called once per plugin, the first time any architecture is listed or looked up (training
    builds the configured ``architecture``; ``eval``, ``compare``, ``demo``, ``load_run`` and
    ``load_generator`` rebuild it from the run's config).

    :param register: ``register(name, factory)``; ``factory(*, image_size, channels, z_dim,
        num_classes=0, **options)`` must return ``(generator, discriminator)``, two
        ``torch.nn.Module``. The generator has an int attribute ``z_dim`` and maps ``z``
        (``B×z_dim``), plus ``labels`` (int64 ``(B,)``) when ``num_classes > 0``, to
        ``B×channels×image_size×image_size`` images in ``[-1, 1]``. The discriminator maps
        images (plus labels when conditional) to raw logits of shape ``(B,)`` or ``(B, 1)``.

    Notes:
        Optional: ``discriminator.features(images[, labels])`` returning its penultimate
        features ``B×d`` (feature matching needs it; every built-in has it). A factory raises
        ``ValueError`` for an ``image_size`` it does not support. The built pair is checked when
        built (``PluginContractError``).
    """
