"""Hook specifications: the three ways a plugin adds names to gan-regularizers.

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
        ``generator_loss(fake_logits) -> Tensor``, both scalar losses to minimise, computed from
        raw discriminator logits (not probabilities).

    Notes:
        A name may be registered by one plugin only: a second registration raises
        :class:`~gan_regularizers.errors.DuplicateNameError` naming both distributions.
    """


@hookspec
def register_regularizers(register: Register) -> None:
    """Register generator regularizers.

    Called once per plugin, the first time any regularizer is listed or looked up.

    :param register: ``register(name, factory)``; ``factory(**options)`` must return a
        ``torch.nn.Module`` whose ``forward(fake_images)`` returns a scalar that is already
        multiplied by its weight, ready to be added to the generator loss.

    Notes:
        Regularizers that need reference statistics expose ``fit(data)``; the training loop calls
        it before the first step.
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
