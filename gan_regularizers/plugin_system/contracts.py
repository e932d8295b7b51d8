"""The typed contracts of everything a plugin can register: losses, regularizers, augmentations,
feature spaces, metrics and datasets.

These ``typing.Protocol`` classes are the one place the contracts are written down; the hook
specifications, the registry's return types, the training loop and the conformance tests all refer
to them. They are structural: a plugin's object satisfies a contract by having the attributes, not
by inheriting from anything.

The optional members are honoured by the training loop, which owns the numbered per-step duties
of ``LOOP_DUTIES`` (each held by an end-to-end test that trains with a probe plugin).
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
    ``equilibrium`` is the reference line at the game's equilibrium (BCE: 0.5; LSGAN:
    ``(a + b) / 2`` on raw outputs), or ``None`` where the loss has none; ``bounds`` is the range
    of the logged quantity when it has one (BCE's sigmoid: ``(0, 1)``), ``None`` for raw outputs.
    The saturation monitor reads ``bounds``: D has saturated when the summaries of real and fake
    sit within 1 % of opposite ends of the range (bounded), or apart with a vanishing loss (raw).
    """

    label: str = "mean logit"
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None
    equilibrium: float | None = None
    bounds: tuple[float, float] | None = None

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

    Optional attributes: ``logit_summary`` (a ``LogitSummary``; duty 8) and
    ``requires_real_logits`` (default False; duty 5): when True the loop computes
    ``D(T(x))`` under the current discriminator, without gradient, and passes it to
    ``generator_loss`` as ``real_logits`` (relativistic losses need it and raise a clear error
    without it); every other loss gets ``real_logits=None`` and the loop spends no D forward on
    it.
    """

    def discriminator_loss(
        self, real_logits: torch.Tensor, fake_logits: torch.Tensor
    ) -> torch.Tensor: ...

    def generator_loss(
        self, fake_logits: torch.Tensor, real_logits: torch.Tensor | None = None
    ) -> torch.Tensor: ...


def logit_summary(loss: object) -> LogitSummary:
    """The loss's ``LogitSummary``, or the raw mean with no equilibrium when it has none."""
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
    """``side = "generator"``: ``forward(fake_images) -> weighted scalar`` added to L_G.

    Optional members of every regularizer (either side), honoured by the loop:
    ``every`` (an int ≥ 1, the lazy period when the regularizer is given as a module; a spec's
    ``every=k`` option is the loop's and the plugin never sees it; duty 2), ``set_step(step)``
    (``StepAware``; duty 1), ``fit``/``fitted`` (``FittableRegularizer``; duty 0),
    ``diagnostics`` (a ``dict[str, float]`` logged as ``diag/<term>/<key>``; duty 9) and
    registered buffers (checkpointed; duty 10).
    Generator-side only: ``needs_batch = True`` (``forward`` then receives a
    ``GeneratorBatch``: fake and real images and the frozen D; duty 13). Either side:
    ``adapt(images)``, called after each step the term ran with the images since its last call
    (a controller's step, e.g. the adaptive centroid's λ; duty 14); scheduled options
    (``scheduled_options``, set before each step; duty 12).
    """

    side: Side

    def __call__(self, fake_images: torch.Tensor) -> torch.Tensor: ...


@dataclass(frozen=True)
class GeneratorBatch:
    """What a generator-side regularizer that declares ``needs_batch = True`` sees at each
    generator step, instead of the fake images alone (feature matching needs D and a real batch).

    Attributes:
        fake: ``x̂ = G(z)`` with G's graph, before augmentation.
        real: this step's real images, before augmentation.
        discriminator: the plain discriminator (unwrapped from DDP), frozen for the G step: its
            parameters take no gradient, but gradients flow through it to ``fake``.
        step: the 1-based training step.
        augment: the augmentation applied before every D call (identity when none).
        labels: the class labels of ``fake`` in a conditional run, else ``None``.
    """

    fake: torch.Tensor
    real: torch.Tensor
    discriminator: nn.Module
    step: int
    augment: Callable[[torch.Tensor], torch.Tensor] | None = None
    labels: torch.Tensor | None = None


def needs_batch(regularizer: object) -> bool:
    """Whether a generator regularizer asks for a ``GeneratorBatch`` (``needs_batch``)."""
    return getattr(regularizer, "needs_batch", False) is True


def discriminator_features(
    discriminator: nn.Module, images: torch.Tensor, labels: torch.Tensor | None = None
) -> torch.Tensor:
    """``discriminator.features(images[, labels])``: D's penultimate features, ``B×d``.

    ``features`` is an optional member of a discriminator (the built-in architectures have it);
    regularizers that work in D's feature space (feature matching) need it.

    Raises:
        PluginContractError: the discriminator has no ``features`` method.
    """
    features = getattr(discriminator, "features", None)
    if not callable(features):
        from gan_regularizers.errors import PluginContractError

        raise PluginContractError(
            f"{type(discriminator).__name__} has no features(images[, labels]) method, which "
            "this regularizer needs (D's penultimate features, B×d, the layer before the "
            "logit). Add one to your discriminator, or use a built-in architecture that has it."
        )
    output = features(images) if labels is None else features(images, labels)
    return output.reshape(output.shape[0], -1)


@runtime_checkable
class DiscriminatorRegularizer(Protocol):
    """``side = "discriminator"``: ``forward(batch: DiscriminatorBatch) -> weighted scalar``
    added to L_D."""

    side: Side

    def __call__(self, batch: DiscriminatorBatch) -> torch.Tensor: ...


@runtime_checkable
class FittableRegularizer(Protocol):
    """A regularizer with reference statistics: ``train`` calls ``fit(data)`` while
    ``fitted`` is False. Declaring ``fit`` without ``fitted`` is an error. ``fit`` is also
    given ``max_images``, ``batch_size`` and ``cache`` when its signature names them (or takes
    ``**options``). ``gan-regularizers fit --regularizer SPEC`` fits it alone and saves it (its
    ``save(path)`` when it has one, else its ``state_dict``, loaded by ``train`` with
    ``fitted=FILE`` in its spec)."""

    fitted: bool

    def fit(self, data: Any) -> Any: ...


@runtime_checkable
class StepAware(Protocol):
    """A regularizer that is told the training step: the loop calls ``set_step(step)`` with the
    1-based training step once per step, before any of that step's calls (on lazy steps where
    the term does not run too), so schedules (e.g. the centroid's ``warmup_steps``) count
    training steps, not calls. A resumed run continues the count."""

    def set_step(self, step: int) -> None: ...


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
    each discriminator step's optimiser step with that step's real logits ``D(T(x))``, detached,
    float32 (adaptive augmentations such as ``diffaugment:adaptive=true`` tune their probability
    from it; duty 4); ``diagnostics``, a ``dict[str, float]`` logged as ``diag/augment/<key>`` in
    every row (e.g. ``{"p": 0.12}``; duty 9). State that must survive a resume lives in
    registered buffers, so ``state_dict()`` carries it (duty 10).
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
    (``context.reference``: the real data as loaded) and ``update(images, real=False,
    indices=...)`` per generated batch (also ``real=True`` per
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


@dataclass(frozen=True)
class Duty:
    """One duty the training loop owns: its number, what it does and the test that holds it
    (a test function in ``tests/test_loop_duties.py``)."""

    number: int
    text: str
    test: str


LOOP_DUTIES: tuple[Duty, ...] = (
    Duty(0, "Before step 1, call fit(training data) on each regularizer with fit whose fitted is "
         "False (a resumed or pre-fitted one is not refitted).", "test_duty_fit"),
    Duty(1, "At the start of each training step, call set_step(step) (1-based) on each "
         "regularizer that has it, active on that step or not.", "test_duty_set_step"),
    Duty(2, "Run a regularizer with lazy period k (spec every=k, or a module's every attribute) "
         "on training steps 1, 1 + k, … only, its value × k; 0 on the others.",
         "test_duty_every"),
    Duty(3, "Discriminator step: apply the augmentation to real and fake before every D call, "
         "and give each discriminator-side regularizer a DiscriminatorBatch.",
         "test_duty_discriminator_batch"),
    Duty(4, "After each discriminator step, call augment.update(real_logits) with that step's "
         "detached real logits, when the augmentation has update.", "test_duty_augment_update"),
    Duty(5, "Generator step: recompute D(T(x)) (no grad) only for a loss whose "
         "requires_real_logits is true; every other loss gets real_logits=None and no extra D "
         "forward nor augmentation draw.", "test_duty_real_logits_on_request"),
    Duty(6, "After the generator step, update the G-EMA (ema_decay > 0, or ema_kimg's half-life "
         "in images); it draws the sample grids and is checkpointed.", "test_duty_ema"),
    Duty(7, "Stop before an optimiser step on a NaN/Inf term, naming the step and the term.",
         "test_duty_non_finite"),
    Duty(8, "Log D's outputs through the loss's logit_summary, and warn once when the "
         "saturation monitor, reading the summary's bounds, sees D saturate.",
         "test_duty_logit_summary"),
    Duty(9, "Log each regularizer's diagnostics as diag/<term>/<key> and the augmentation's as "
         "diag/augment/<key> in every row.", "test_duty_diagnostics"),
    Duty(10, "Write every module's state (regularizers' and the augmentation's buffers, lazy "
          "D-side state included) into each checkpoint and restore it on resume, bit-exactly.",
          "test_duty_state_resumes"),
    Duty(11, "On a KeyboardInterrupt (Ctrl-C: after the current step), write a checkpoint of "
          "the last finished step and say how to resume.", "test_duty_interrupt_keeps_the_run"),
    Duty(12, "Before each step (after set_step), set every scheduled option of the loss, the "
          "regularizers and the augmentation (scheduled_options) to its value after the steps "
          "done, and each optimiser's lr and betas from g_lr, d_lr, beta1, beta2 (× lazy_adam's "
          "mb_ratio); log them as sched/<term>/<option> and sched/train/<key>.",
          "test_duty_schedules"),
    Duty(13, "Generator step: give a generator-side regularizer with needs_batch a "
          "GeneratorBatch (fake with G's graph, the real batch, the plain frozen D, the step, "
          "the augmentation) instead of the fake images.", "test_duty_generator_batch"),
    Duty(14, "After each step, call adapt(images) on each regularizer that has it and ran on "
          "that step, with the images seen since its last call (batch size × every).",
          "test_duty_adapt"),
)  # fmt: skip
"""The training loop's per-step duties, in order (docs/plugins.md lists the same)."""


Factory = Callable[..., Any]
ImageSource = Iterable[Any]
