"""The typed contracts of everything a plugin can register: losses, regularizers, augmentations,
feature spaces, metrics and datasets.

These ``typing.Protocol`` classes are the one place the contracts are written down; the hook
specifications, the registry's return types, the training loop and the conformance tests all refer
to them. They are structural: a plugin's object satisfies a contract by having the attributes, not
by inheriting from anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    import torch
    from torch import nn

Side = Literal["generator", "discriminator"]


@dataclass(frozen=True)
class LogitSummary:
    """How a loss summarises the discriminator's raw output for logging.

    ``transform`` maps raw logits to the logged quantity (BCE: ``sigmoid``; LSGAN, hinge,
    Wasserstein: the identity, ``None``); ``label`` names it (``"D(x)"``, ``"mean logit"``);
    ``equilibrium`` is the reference line at the game's equilibrium (BCE: 0.5), or ``None`` where
    the loss has none.
    """

    label: str = "mean logit"
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None
    equilibrium: float | None = None

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:
        """The mean of ``transform(logits)`` over the batch, as a float32 scalar."""
        values = logits.detach().float()
        if self.transform is not None:
            values = self.transform(values)
        return values.mean()


RAW_LOGITS = LogitSummary()


@runtime_checkable
class AdversarialLoss(Protocol):
    """An adversarial loss on raw discriminator outputs (logits), both players' sides.

    ``generator_loss`` receives ``real_logits`` too: relativistic losses need it and raise a clear
    error without it; the others ignore it. The training loop always passes it. Optional
    attributes: ``logit_summary`` (a :class:`LogitSummary`) and ``requires_real_logits = True``,
    which asks the loop for ``D(x)`` under the current discriminator in the generator step.
    """

    def discriminator_loss(
        self, real_logits: torch.Tensor, fake_logits: torch.Tensor
    ) -> torch.Tensor: ...

    def generator_loss(
        self, fake_logits: torch.Tensor, real_logits: torch.Tensor | None = None
    ) -> torch.Tensor: ...


def logit_summary(loss: object) -> LogitSummary:
    """The loss's :class:`LogitSummary`, or the raw mean with no equilibrium when it has none."""
    summary = getattr(loss, "logit_summary", None)
    return summary if isinstance(summary, LogitSummary) else RAW_LOGITS


@dataclass(frozen=True)
class DiscriminatorBatch:
    """What a discriminator-side regularizer sees at each discriminator step.

    Attributes:
        discriminator: the plain discriminator module, unwrapped from DDP (call it to take
            gradients, e.g. for R1; its extra forward stays out of DDP's gradient sync).
        real: the real images as the discriminator saw them (after augmentation).
        fake: the generated images as the discriminator saw them, detached from G.
        real_logits, fake_logits: ``D(real)`` and ``D(fake)`` of this step (with graph).
        step: the 1-based training step.
        augment: the augmentation applied before every D call (identity when none), so a
            regularizer that evaluates D on new images (WGAN-GP interpolates) can apply it too.
    """

    discriminator: nn.Module
    real: torch.Tensor
    fake: torch.Tensor
    real_logits: torch.Tensor
    fake_logits: torch.Tensor
    step: int
    augment: Callable[[torch.Tensor], torch.Tensor] | None = None


@runtime_checkable
class GeneratorRegularizer(Protocol):
    """``side = "generator"``: ``forward(fake_images) -> weighted scalar`` added to L_G."""

    side: Side

    def __call__(self, fake_images: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class DiscriminatorRegularizer(Protocol):
    """``side = "discriminator"``: ``forward(batch: DiscriminatorBatch) -> weighted scalar``
    added to L_D."""

    side: Side

    def __call__(self, batch: DiscriminatorBatch) -> torch.Tensor: ...


@runtime_checkable
class FittableRegularizer(Protocol):
    """A regularizer with reference statistics: ``train`` calls ``fit(data)`` while
    ``fitted`` is False. Declaring ``fit`` without ``fitted`` is an error."""

    fitted: bool

    def fit(self, data: Any) -> Any: ...


def regularizer_side(regularizer: object) -> Side:
    """``regularizer.side``; a module without one is a generator-side regularizer."""
    side = getattr(regularizer, "side", "generator")
    if side not in ("generator", "discriminator"):
        from gan_regularizers.errors import GanRegularizersError

        raise GanRegularizersError(
            f"{type(regularizer).__name__}.side is {side!r}; a regularizer declares "
            "side = 'generator' or side = 'discriminator'."
        )
    return side


@runtime_checkable
class Augmentation(Protocol):
    """A differentiable ``images -> images`` transform applied to real and fake images before
    every discriminator call (D step and G step).

    Optional members the training loop uses when present: ``update(real_logits)``, called after
    each discriminator step with that step's real logits (adaptive augmentations such as
    ``diffaugment:adaptive=true`` tune their probability from it); ``diagnostics``, a
    ``dict[str, float]`` logged every step (e.g. ``{"p": 0.12}``). State that must survive a
    resume lives in registered buffers, so ``state_dict()`` carries it.
    """

    def __call__(self, images: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class FeatureSpaceModule(Protocol):
    """A frozen network: images ``B×3×H×W`` in ``[-1, 1]`` → ``B×d`` float32 features.

    ``descriptor`` names it exactly (statistics and caches key on it); ``differentiable`` is False
    for a space that passes no gradient to its input (a generator regularizer refuses it).
    """

    descriptor: Mapping[str, Any]

    def __call__(self, images: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class Metric(Protocol):
    """A metric: exactly what the engine (``metrics.evaluate``, ``eval``, ``compare``, ``score``)
    calls. ``gan_regularizers.metrics.Metric`` and ``FeatureSpaceMetric`` implement it.

    Attributes:
        name: the metric's name (``"kid"``, ``"fd:vgg16"``).
        spec: the spec that builds it again with every option (part of ``compare``'s reuse key).
        feature_space: the registered feature space it reads, or ``None`` for a metric on the
            images themselves.
        space_options: the options of that feature space.
        needs: what it reads of its space: ``"moments"`` (float64 mean and covariance) and/or
            ``"features"`` (the rows); empty (or ``{"real_images"}``) for an image metric.

    The engine: for each feature space, ``build_space()`` of its first metric once, then
    ``reset()`` and ``bind(real, fake, space)`` on each of its metrics with the shared collectors
    it fills in one pass per image set; for an image metric ``reset()``, ``prepare(context)``
    and ``update(images, real=False, indices=...)`` per generated batch (also ``real=True`` per
    real batch when ``needs`` holds ``"real_images"``); then ``compute(context)`` of every metric
    (a mapping of result name to ``MetricResult``) and ``descriptor()`` for the reuse key.
    """

    name: str
    spec: str
    feature_space: str | None
    space_options: Mapping[str, Any]
    needs: frozenset[str]

    def build_space(self) -> nn.Module | None: ...

    def bind(self, real: Any, fake: Any, space: nn.Module) -> None: ...

    def prepare(self, context: Any) -> None: ...

    def update(
        self, values: torch.Tensor, *, real: bool = False, indices: torch.Tensor | None = None
    ) -> None: ...

    def compute(self, context: Any = None) -> Mapping[str, Any]: ...

    def reset(self) -> None: ...

    def descriptor(self) -> Mapping[str, Any]: ...


@runtime_checkable
class ImageDataset(Protocol):
    """A map-style dataset of ``(image in [-1, 1], label)`` items."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]: ...


Factory = Callable[..., Any]
ImageSource = Iterable[Any]
