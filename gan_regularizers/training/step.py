"""One training iteration: the paper's Algorithm 1 for any loss, both players' regularizers.

With real images ``x``, latents ``z``, the augmentation ``T`` (identity when none) and
``x̂ = G(z)``:

0. (the loop, before it draws the step's batch: ``tell_step``) each regularizer with
   ``set_step`` is told the training step;
1. discriminator step on ``L_D = loss.discriminator_loss(D(T(x)), D(T(x̂).detach()))
   + Σ_{r ∈ D-side} k_r · r(batch)``, ``batch`` a
   ``DiscriminatorBatch``; then, when the
   augmentation has ``update``, ``T.update(D(T(x)).detach())``;
2. generator step on ``L_G = loss.generator_loss(D(T(x̂)), real_logits)
   + Σ_{r ∈ G-side} k_r · r(x̂)`` with D frozen, where ``real_logits = D(T(x))`` is taken
   (without gradient, one more D forward and augmentation draw) only for a loss that sets
   ``requires_real_logits = True``, and is ``None`` for every other loss;
3. BatchNorm buffers averaged over ranks, then the G-EMA update.

In a conditional run (``num_classes > 0``) the real batch comes with its labels ``y`` and the
fakes are drawn for the same labels: ``x̂ = G(z, y)``, ``D(T(x), y)`` and ``D(T(x̂), y)``. So
every image D sees in a step (real, fake, or a penalty's interpolate between them) has its row's
label ``y``, and the fakes' classes are as balanced as the data's: a discriminator-side
regularizer gets ``D`` bound to ``y`` (R1 at the reals, R2 at the fakes, WGAN-GP between them),
a generator-side one whose ``forward`` takes ``labels`` gets ``labels=y``, and a
``GeneratorBatch`` carries ``labels=y`` (feature matching's features of both batches).

A regularizer with lazy period ``k_r`` (``every=k``) runs on training steps ``1, 1 + k, …``
only, with its value multiplied by ``k`` (0 on the other steps). Every term is checked for
NaN/Inf before its optimiser step. The numbered duties are listed in
``LOOP_DUTIES``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from gan_regularizers.errors import NonFiniteLossError
from gan_regularizers.plugin_system.contracts import (
    DiscriminatorBatch,
    GeneratorBatch,
    needs_batch,
)
from gan_regularizers.training.checkpoint import CHECKPOINT_NAME
from gan_regularizers.training.ddp import average_buffers, mean_over_ranks
from gan_regularizers.training.ema import apply_ema
from gan_regularizers.training.networks import LabelledDiscriminator, takes_labels
from gan_regularizers.training.run import Run


def _identity(images: torch.Tensor) -> torch.Tensor:
    return images


def _call(network: object, inputs: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    """``network(inputs)``, or ``network(inputs, labels)`` in a conditional run."""
    return network(inputs) if labels is None else network(inputs, labels)  # type: ignore[operator]


def check_finite(values: Mapping[str, float], step: int, run: Run) -> None:
    """Raise ``NonFiniteLossError`` for the first NaN/Inf term, with advice that works."""
    for term, value in values.items():
        if np.isfinite(value):
            continue
        where = (
            f"The last good checkpoint (step {run.saved_step}) is kept in "
            f"{run.run_dir / CHECKPOINT_NAME}; continue from it with lower learning rates: "
            f"gan-regularizers train --resume {run.run_dir} --set g_lr=... --set d_lr=... "
            "(learning rates may change on resume; the change is recorded in history.jsonl)."
            if run.saved_step is not None
            else "No checkpoint had been written yet; start again with lower learning rates."
        )
        raise NonFiniteLossError(
            f"step {step}: the {term} is {value}; training stopped before the optimiser "
            f"step. {where} Otherwise lower the regularizer weights, or check the term's inputs.",
            step=step,
            term=term,
        )


def _regularizer_values(
    run: Run, side: str, argument: object, step: int, batch: GeneratorBatch | None = None,
    labels: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:  # fmt: skip
    """``k · r(argument)`` for each regularizer of ``side`` (0 on its inactive lazy steps);
    a generator regularizer with ``needs_batch`` gets ``batch`` instead (duty 13), and one whose
    ``forward`` takes ``labels`` gets ``r(argument, labels=labels)`` in a conditional run."""
    values: dict[str, torch.Tensor] = {}
    for term in run.terms.values():
        if term.side != side:
            continue
        if not term.active(step):
            values[term.name] = torch.zeros((), device=run.device)
            continue
        try:
            if batch is not None and needs_batch(term.module):
                value = term.module(batch)
            elif labels is not None and takes_labels(term.module):
                value = term.module(argument, labels=labels)
            else:
                value = term.module(argument)
        except Exception as error:
            error.add_note(f"(raised by the regularizer {term.name!r} at step {step})")
            raise
        values[term.name] = value * term.every if term.every > 1 else value
    return values


def _reduce(run: Run, named: Mapping[str, torch.Tensor]) -> dict[str, float]:
    """Detached scalars → their means over the ranks, as floats."""
    stacked = torch.stack([v.detach().float().reshape(()) for v in named.values()])
    return dict(zip(named, mean_over_ranks(stacked, run.context.world_size).tolist(), strict=True))


def discriminator_step(
    run: Run, real: torch.Tensor, z: torch.Tensor, step: int,
    real_labels: torch.Tensor | None = None, fake_labels: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:  # fmt: skip
    """Step 1: one D update; returns ``x̂`` (with G's graph) and the logged values."""
    augment = run.augment or _identity
    with run.autocast():
        fake = _call(run.g_model, z, fake_labels)
        real_seen, fake_seen = augment(real), augment(fake.detach())
        real_logits = _call(run.d_model, real_seen, real_labels).view(-1)
        fake_logits = _call(run.d_model, fake_seen, fake_labels).view(-1)
    adversarial = run.loss.discriminator_loss(real_logits.float(), fake_logits.float())
    seen_by = run.d_model
    if real_labels is not None:
        seen_by = LabelledDiscriminator(run.d_model, real_labels)
    batch = DiscriminatorBatch(seen_by, real_seen.float(), fake_seen.detach().float(),
                               real_logits, fake_logits, step, augment)  # fmt: skip
    terms = _regularizer_values(run, "discriminator", batch, step)
    values = _reduce(run, {"loss_d_adv": adversarial, "d_real": run.summary(real_logits),
                           "d_fake": run.summary(fake_logits), **terms})  # fmt: skip
    check_finite({f"discriminator loss ({run.loss_name})": values["loss_d_adv"]}, step, run)
    check_finite({f"regularizer {t!r}": values[t] for t in terms}, step, run)
    total = adversarial + sum(terms.values(), torch.zeros((), device=run.device))
    run.d_optimizer.zero_grad(set_to_none=True)
    total.backward()
    run.d_optimizer.step()
    _update_augmentation(run, real_logits)
    logged = {"loss_d": values["loss_d_adv"] + sum(values[t] for t in terms)}
    if terms:
        logged["loss_d_adv"] = values["loss_d_adv"]
    logged.update(d_real=values["d_real"], d_fake=values["d_fake"])
    return fake, {**logged, **{f"reg/{t}": values[t] for t in terms}}


def _update_augmentation(run: Run, real_logits: torch.Tensor) -> None:
    """Duty 4: ``augment.update(real_logits)`` after the D step, when the augmentation has it."""
    update = getattr(run.augment, "update", None)
    if callable(update):
        update(real_logits.detach().float())


def tell_step(run: Run, step: int) -> None:
    """Duty 1: ``set_step(step)`` on each regularizer that has it, before the step's calls."""
    for term in run.terms.values():
        set_step = getattr(term.module, "set_step", None)
        if callable(set_step):
            set_step(step)


def generator_step(
    run: Run, real: torch.Tensor, fake: torch.Tensor, step: int,
    real_labels: torch.Tensor | None = None, fake_labels: torch.Tensor | None = None,
) -> dict[str, float]:  # fmt: skip
    """Step 2: one G update through the plain, frozen D (not its DDP wrapper).

    ``D(T(x))`` is computed again only for a loss with ``requires_real_logits``; every other
    loss gets ``real_logits=None`` and costs no second D forward nor augmentation draw.
    """
    augment = run.augment or _identity
    run.discriminator.requires_grad_(False)
    with run.autocast():
        fake_logits = _call(run.discriminator, augment(fake), fake_labels).view(-1).float()
        real_logits = None
        if run.real_logits_in_g:
            with torch.no_grad():
                real_logits = _call(run.discriminator, augment(real), real_labels)
                real_logits = real_logits.view(-1).float()
    if real_logits is None:
        adversarial = run.loss.generator_loss(fake_logits)
    else:
        adversarial = run.loss.generator_loss(fake_logits, real_logits=real_logits)
    batch = GeneratorBatch(fake.float(), real.float(), run.discriminator, step, run.augment,
                           labels=fake_labels)  # fmt: skip
    terms = _regularizer_values(run, "generator", fake.float(), step, batch, fake_labels)
    run.discriminator.requires_grad_(True)
    values = _reduce(run, {"adversarial": adversarial, **terms})
    named = {f"generator loss ({run.loss_name})": values["adversarial"]}
    named.update({f"regularizer {t!r}": values[t] for t in terms})
    check_finite(named, step, run)
    total = adversarial + sum(terms.values(), torch.zeros((), device=run.device))
    run.g_optimizer.zero_grad(set_to_none=True)
    total.backward()
    run.g_optimizer.step()
    return {
        "loss_g": float(sum(values.values())),
        "loss_g_adv": values["adversarial"],
        **{f"reg/{t}": values[t] for t in terms},
    }


def train_step(
    run: Run, real: torch.Tensor, z: torch.Tensor, step: int,
    real_labels: torch.Tensor | None = None, fake_labels: torch.Tensor | None = None,
) -> dict[str, float]:  # fmt: skip
    """One iteration (steps 1–3 above) on ``run``; returns the step's values to log.

    Args:
        run: the ``Run``.
        real: this rank's real batch on the run's device.
        z: latents ``B×z_dim`` on the run's device.
        step: the 1-based step (decides the lazy regularizers and the EMA warm-up).
        real_labels, fake_labels: the real batch's labels and the labels the fakes are drawn
            for, in a conditional run (``None`` otherwise).
    """
    fake, d_values = discriminator_step(run, real, z, step, real_labels, fake_labels)
    g_values = generator_step(run, real, fake, step, real_labels, fake_labels)
    average_buffers(run.generator, run.context.world_size)
    average_buffers(run.discriminator, run.context.world_size)
    if run.ema is not None:
        apply_ema(run.ema, run.generator, run.schedules.ema_beta(step))
    return {**d_values, **g_values}
