"""The feature-space centroid constraint of Seo & Park (2025), as a drop-in generator regularizer.

With a frozen feature network φ, fitted once on N training images:

* centre (eq. 1): ``c = (1/N) Σ_i φ(x_i)``
* reference distance (eq. 2): ``d_ref = (1/N) Σ_i ‖φ(x_i) − c‖₂``
* penalty on a generated batch (eq. 3): ``L = (1/M) Σ_j max(0, ‖φ(x̂_j) − c‖₂ − d_ref)``
* the generator minimises ``L_adv + λ·L`` (eq. 4, ``λ = 0.1``); ``forward`` returns ``λ·L``.

``normalize="d_ref"`` divides each excess by d_ref (``L = (1/M) Σ_j max(0, ‖φ(x̂_j) − c‖₂/d_ref
− 1)``), so λ means the same in any feature space; the paper's presets keep the raw form.

Unlike the authors' released code, the penalty is differentiable end to end (gradients reach the
generator through φ) and real and fake images take the same preprocessing.

Beyond the paper: ``radius="quantile"`` (a ``q``-quantile d_ref), ``centers=k`` (k-means centres,
each sample held to its nearest centre and that centre's own d_ref), ``per_class=True`` (one
centre per label), and schedules: ``warmup_steps``, a linear warm-up of λ over that many
*training* steps (the loop tells the module the step through ``CentroidLoss.set_step``), and
``every=k``, lazy application with weight ``λ·k`` as StyleGAN2's lazy regularisation, which the
training loop applies (it reads the module's ``every``; the module itself never skips a call).
Also ``adaptive=True``: λ steered by ADA's sign rule to hold the fraction of penalised samples
at ``target`` (``adaptive``; the loop calls ``adapt``).

The package's other modules: ``.options`` (the options, once), ``.fitting`` (fit and the
PCA), ``.persistence`` (files, the cache, state-dict checks), ``.group_statistics``.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gan_regularizers.centroid import persistence
from gan_regularizers.centroid.adaptive import AdaptiveWeight
from gan_regularizers.centroid.fitting import FitOutcome, fit_statistics
from gan_regularizers.centroid.frozen import FrozenView
from gan_regularizers.centroid.options import CentroidOptions, resolve_preset
from gan_regularizers.centroid.state import STATE_BUFFERS
from gan_regularizers.checks.images import warn_if_zero_one
from gan_regularizers.errors import (
    FeatureSpaceError,
    FitDataError,
    ImageSizeError,
    InvalidOptionError,
    NotFittedError,
)
from gan_regularizers.files.statistics_files import module_descriptor
from gan_regularizers.plugin_system.registry import get_feature_space

_INTEGER_BUFFERS = ("center_counts", "classes", "image_size", "steps")


class CentroidLoss(nn.Module):
    """Penalise generated samples further from the real features' centre than real ones are.

    Args:
        feature_space: a registered name (``"vgg16"``, ``"clip"``, ``"dinov2"``, …), a
            feature-space object, or any ``nn.Module`` mapping images to features (flattened to
            ``B×d``). A module you pass is used frozen (eval mode, no parameter gradients) but
            left as it was: its mode and ``requires_grad`` flags are not changed.
        weight: λ of eq. (4). ``0`` costs nothing: the backbone is not run.
        **options: the fields of ``CentroidOptions``
            (``preset``, ``radius``, ``q``, ``centers``, ``per_class``, ``warmup_steps``,
            ``every``, ``memory_budget``, ``kmeans_iterations``, ``seed``, ``progress``,
            ``projection``, ``normalize``); the rest go to the registered feature space.

    Buffers (in ``state_dict`` and checkpoints): ``center`` (``d`` for one centre, ``k×d``),
    ``d_ref`` (scalar or ``k``), ``center_counts``, ``classes``, the projection, the fitted
    ``image_size``, ``fitted_space`` (the fitted space's descriptor and statistics options as
    UTF-8 JSON bytes, checked when loading) and ``steps``, the training step last given to
    ``set_step`` (the warm-up's clock).

    Schedules: the training loop calls ``set_step(step)`` before each step and applies ``every``
    (it runs the module on steps ``1, 1 + every, …`` and multiplies the value by ``every``). In
    your own loop, call ``loss.set_step(step)`` (1-based) each step when ``warmup_steps > 0``, and
    apply ``every`` yourself.
    """

    side = "generator"

    def __init__(
        self, feature_space: str | nn.Module = "vgg16", weight: float = 0.1, **options: Any
    ) -> None:
        super().__init__()
        own, space_options = CentroidOptions.split(options)
        feature_space, own, space_options = resolve_preset(feature_space, own, space_options)
        self.options = CentroidOptions(weight=weight, **own)
        self.feature_space_name = feature_space if isinstance(feature_space, str) else None
        self.feature_space_options = dict(space_options)
        self._space = _build_space(feature_space, space_options)
        for name in STATE_BUFFERS:
            integer = name in _INTEGER_BUFFERS
            shape = () if name == "steps" else (0,)
            dtype = torch.int64 if integer else torch.float64
            dtype = torch.uint8 if name == "fitted_space" else dtype
            self.register_buffer(name, torch.zeros(shape, dtype=dtype))
        self._last: tuple[torch.Tensor, ...] | None = None
        self._warned_no_grad = False
        self.controller: AdaptiveWeight | None = None
        if self.options.adaptive:
            opts = self.options
            self.controller = AdaptiveWeight(opts.weight, opts.target, opts.rate_kimg)

    # -- options and the space -----------------------------------------------------------------
    @property
    def weight(self) -> float:
        """λ; assigning a new value checks it."""
        return float(self.options.weight)

    @weight.setter
    def weight(self, value: float) -> None:
        self.options = self.options.updated(weight=value)

    @property
    def preset(self) -> str | None:
        return self.options.preset

    @property
    def num_centers(self) -> int:
        return self.options.centers

    @property
    def projection_dim(self) -> int | None:
        return self.options.projection

    @property
    def single_center(self) -> bool:
        """One centre for every sample: ``center`` is ``d`` and ``d_ref`` a scalar."""
        return self.options.centers == 1 and not self.options.per_class

    @property
    def feature_space(self) -> nn.Module:
        """The feature network φ as given (not a submodule: its weights stay out of state)."""
        space = self._space[0]
        return space.module if isinstance(space, FrozenView) else space

    @property
    def descriptor(self) -> dict[str, Any]:
        """The feature space's descriptor plus the centroid's projection; statistics key on it."""
        projection = self.options.projection
        return {
            **module_descriptor(self._space[0]),
            "projection": None if projection is None else f"pca{projection}",
        }

    @property
    def fitted_descriptor(self) -> dict[str, Any] | None:
        """The descriptor of the space the statistics were fitted in (``None`` before)."""
        record = persistence.decode_record(self.fitted_space)
        return None if record is None else record["descriptor"]

    @property
    def num_images(self) -> torch.Tensor:
        """Number of fitted images, ``Σ center_counts`` (an int64 scalar tensor)."""
        return self.center_counts.sum()

    @property
    def fitted(self) -> bool:
        """True once statistics were fitted, loaded or restored from a state dict."""
        return self.center_counts.numel() > 0 and int(self.num_images) > 0

    def _apply(self, fn: Any, recurse: bool = True) -> CentroidLoss:  # .to(), .cuda(), .double()
        super()._apply(fn, recurse)
        self.feature_space._apply(fn)
        return self

    def train(self, mode: bool = True) -> CentroidLoss:
        """Set the module's mode; the feature space is always evaluated in eval mode."""
        super().train(mode)
        if not isinstance(self._space[0], FrozenView):
            self._space[0].eval()
        return self

    # -- the penalty ---------------------------------------------------------------------------
    def _raw_features(self, images: torch.Tensor) -> torch.Tensor:
        features = self._space[0](images)
        return features.reshape(features.shape[0], -1).float()

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """``φ(images)`` as ``B×d`` float32, projected when there is a projection."""
        features = self._raw_features(images)
        if self.options.projection is not None:
            mean, components = self.projection_mean.float(), self.projection_components.float()
            features = (features - mean) @ components.T
        return features

    @property
    def every(self) -> int:
        """The lazy period ``k``, applied by the training loop (runs every k steps, value × k)."""
        return int(self.options.every)

    def set_step(self, step: int) -> None:
        """Tell the module the 1-based training step (the training loop calls it each step)."""
        self.steps.fill_(int(step))

    def _warmup_factor(self) -> float:
        """``min(1, step / warmup_steps)`` at the training step given to ``set_step``."""
        warmup = self.options.warmup_steps
        if warmup == 0:
            return 1.0
        step = int(self.steps)
        if step < 1:
            raise InvalidOptionError(
                f"CentroidLoss(warmup_steps={warmup}) counts training steps but was never told "
                "the step: call loss.set_step(step) (1-based) before each training call; "
                "gan-regularizers train does this itself."
            )
        return min(1.0, step / warmup)

    def forward(self, fake: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """``weight · (1/M) Σ_j max(0, ‖φ(x̂_j) − c‖₂ − d_ref)`` for fakes in ``[-1, 1]``.

        With several centres each sample is held to its nearest centre (or, with
        ``per_class=True`` and ``labels``, to its class centre) and that centre's own d_ref.
        """
        if self.options.weight == 0.0 and self.controller is None:
            return torch.zeros((), device=fake.device, dtype=torch.float32)
        self._require_fitted()
        self._check_size(fake)
        training = torch.is_grad_enabled()
        self._warn_if_no_gradient(fake, training)
        factor = self._warmup_factor() if training else 1.0
        features = self.features(fake)
        with torch.autocast(device_type=features.device.type, enabled=False):
            penalty = self._penalty(features.float(), labels)
        return (self.current_weight * factor) * penalty

    @property
    def current_weight(self) -> float:
        """The λ in use: the adaptive controller's, else ``weight``."""
        return self.options.weight if self.controller is None else self.controller.value

    def adapt(self, images: int) -> None:
        """With ``adaptive=True``: one controller step on the last batch's fraction penalised.

        The training loop calls it once per step with the number of images the step saw (all
        ranks together); in your own loop, call it after each generator step.
        """
        if self.controller is not None and self._last is not None:
            self.controller.adapt(float(self._last[0]), images)

    def _groups(
        self, features: torch.Tensor, centers: torch.Tensor, labels: torch.Tensor | None
    ) -> torch.Tensor:
        """Each sample's centre: the only one, its class's, or the nearest."""
        if self.single_center:
            return torch.zeros(features.shape[0], dtype=torch.long, device=features.device)
        if self.options.per_class and labels is not None:
            lookup = {int(c): g for g, c in enumerate(self.classes.tolist())}
            return torch.tensor(
                [lookup[int(label)] for label in labels.reshape(-1).tolist()],
                device=features.device,
            )
        distances = torch.cdist(
            features.detach(), centers, compute_mode="donot_use_mm_for_euclid_dist"
        )
        return distances.argmin(dim=1)

    def _penalty(self, features: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """``(1/M) Σ_j max(0, ‖f_j − c_g‖ − r_g)``, each excess ÷ ``r_g`` if normalize="d_ref"."""
        centers = self.center.float().reshape(-1, self.center.shape[-1])
        radii = self.d_ref.float().reshape(-1)
        if centers.shape[1] != features.shape[1]:
            raise FeatureSpaceError(
                f"the feature space gives {features.shape[1]}-d features but the statistics are "
                f"{centers.shape[1]}-d; they were fitted in another space. Fit again."
            )
        groups = self._groups(features, centers, labels)
        distances = torch.linalg.vector_norm(features - centers[groups], dim=1)
        excess = torch.relu(distances - radii[groups])
        if self.options.normalize == "d_ref":
            excess = excess / radii[groups]
        penalty = excess.mean()
        if not torch.isfinite(penalty):
            raise ValueError(
                "the centroid penalty is not finite: the feature space returned NaN or Inf "
                "features for the generated images. Check the generator's output."
            )
        self._last = (
            (excess > 0).float().mean().detach(),
            distances.mean().detach(),
            penalty.detach(),
        )
        return penalty

    @property
    def diagnostics(self) -> dict[str, float]:
        """The last batch's ``fraction_penalised``, ``mean_distance`` and ``mean_excess``."""
        if self._last is None:
            return {}
        fraction, distance, excess = (float(v) for v in self._last)
        values = {"fraction_penalised": fraction, "mean_distance": distance, "mean_excess": excess}
        if self.controller is not None:
            values["weight"] = self.controller.value
        return values

    def _require_fitted(self) -> None:
        if not self.fitted:
            raise NotFittedError(
                "CentroidLoss has no reference statistics yet. Call .fit(real_images) before "
                "training, or CentroidLoss.load(path) / load_state_dict(checkpoint)."
            )

    def _check_size(self, fake: torch.Tensor) -> None:
        if self.image_size.numel() != 2 or fake.dim() < 3:
            return
        fitted = tuple(int(v) for v in self.image_size.tolist())
        given = (int(fake.shape[-2]), int(fake.shape[-1]))
        if given != fitted:
            raise ImageSizeError(
                f"the generated images are {given[0]}×{given[1]} but the statistics were fitted "
                f"on {fitted[0]}×{fitted[1]} real images; features of another size are not "
                "comparable. Fit on real images of the generator's size."
            )

    def _warn_if_no_gradient(self, fake: torch.Tensor, training: bool) -> None:
        if self._warned_no_grad or (training and fake.requires_grad):
            return
        self._warned_no_grad = True
        reason = "under torch.no_grad()" if not training else "on a tensor that needs no grad"
        warnings.warn(
            f"CentroidLoss was called {reason}: no gradient reaches the generator, so the "
            "value is for logging only. Pass the generator's output without .detach() and "
            "outside no_grad to train with it.",
            UserWarning,
            stacklevel=5,  # the caller of loss(fake), past nn.Module's call machinery
        )

    # -- fitting -------------------------------------------------------------------------------
    def fit(
        self,
        data: Any,
        max_images: int | None = None,
        batch_size: int = 64,
        cache: bool = False,
        cache_key: str | None = None,
    ) -> CentroidLoss:
        """Fit c and d_ref on real images in ``[-1, 1]`` (exact, float64, O(k·d) memory).

        Args:
            data: a Dataset, DataLoader, tensor ``N×C×H×W`` or iterable of image batches or
                ``(images, labels)`` tuples.
            max_images: use at most this many images.
            batch_size: backbone batch size (for a Dataset or tensor).
            cache: reuse statistics from ``$GAN_REGULARIZERS_CACHE`` when the feature space,
                images, N and options match; store them after fitting otherwise. Hashing the
                images reads the data once more, so a one-shot iterator needs ``cache_key``.
            cache_key: a name for the data that replaces hashing the images (you promise the
                same key means the same images).
        """
        if data is None:
            raise FitDataError(
                "fit() got None; pass the real images: a tensor N×C×H×W in [-1, 1], a Dataset, "
                "a DataLoader or an iterable of batches."
            )
        if cache:
            return persistence.fit_through_cache(self, data, max_images, batch_size, cache_key)
        self.fit_now(data, max_images, batch_size)
        return self

    def fit_now(self, data: Any, max_images: int | None, batch_size: int) -> None:
        """Fit without the cache (see ``fit``)."""
        outcome = fit_statistics(
            self._raw_features,
            data,
            self.options,
            max_images=max_images,
            batch_size=batch_size,
            device=self._device(),
        )
        declared = tuple(getattr(self.feature_space, "input_range", (-1.0, 1.0)))
        warn_if_zero_one(outcome.minimum, declared, "CentroidLoss.fit")  # type: ignore[arg-type]
        self._set_statistics(outcome)

    def _set_statistics(self, outcome: FitOutcome) -> None:
        device = self._device()  # a rank with an empty shard got its sums on another device
        statistics = outcome.statistics
        centers, radii = statistics.centers.to(device), statistics.radii.to(device)
        total = int(statistics.counts.sum())
        if total < 2:
            raise FitDataError(
                f"fit() saw {total} image(s); the reference distance needs at least 2. Pass more "
                "data or a larger max_images."
            )
        if float(radii.max()) == 0.0:
            raise FitDataError(
                "every reference image has the same features, so d_ref = 0 and every generated "
                "sample would be penalised. Check that the dataset is not one repeated image."
            )
        self.center = centers[0] if self.single_center else centers
        self.d_ref = radii[0] if self.single_center else radii
        self.center_counts = statistics.counts.to(device)
        self.classes = outcome.classes.to(device)
        empty = torch.zeros(0, dtype=torch.float64, device=device)
        mean, components = outcome.projection or (empty, empty.clone())  # two distinct buffers
        self.projection_mean, self.projection_components = mean.to(device), components.to(device)
        self.image_size = torch.tensor(outcome.image_size, dtype=torch.int64, device=device)
        self.fitted_space = persistence.encode_record(self.descriptor, self.options, device)

    def _device(self) -> torch.device:
        for tensor in self.feature_space.parameters():
            return tensor.device
        for tensor in self.feature_space.buffers():
            return tensor.device
        return self.steps.device

    # -- files and checkpoints -----------------------------------------------------------------
    def fit_summary(self) -> str:
        """One line on the fitted statistics, for ``gan-regularizers fit``."""
        self._require_fitted()
        return (
            f"{int(self.num_images)} images, d_ref = {float(self.d_ref):.6g}, "
            f"‖c‖ = {float(self.center.norm()):.6g}"
        )

    def save(self, path: str | Path) -> Path:
        """Write the statistics, descriptor and options (λ, schedules too), atomically."""
        self._require_fitted()
        return persistence.save(self, path)

    @classmethod
    def load(
        cls, path: str | Path, feature_space: str | nn.Module | None = None, **options: Any
    ) -> CentroidLoss:
        """Rebuild a fitted ``CentroidLoss`` from ``save``'s file.

        Options come from the file (λ, schedules and statistics options alike) unless given
        here; a statistics option that differs from the file's is refused, the others (``weight``,
        ``warmup_steps``, ``every``, ``normalize``, ``memory_budget``, ``progress``) override it.
        The feature space is rebuilt from the file's name and options unless ``feature_space``
        (and options) are given; loading into a space whose descriptor differs is refused.
        """
        return persistence.load(cls, path, feature_space, options)

    def _save_to_state_dict(self, destination: Any, prefix: str, keep_vars: bool) -> None:
        super()._save_to_state_dict(destination, prefix, keep_vars)
        destination[prefix + "num_images"] = self.num_images  # derived; kept for readers

    def _load_from_state_dict(
        self,
        state_dict: dict[str, Any],
        prefix: str,
        local_metadata: dict[str, Any],
        strict: bool,
        missing_keys: list[str],
        unexpected_keys: list[str],
        error_msgs: list[str],
    ) -> None:
        persistence.check_state(self, state_dict, prefix)
        state_dict.pop(prefix + "num_images", None)  # derived from center_counts
        for name in STATE_BUFFERS:  # an unfitted loss accepts fitted statistics of any shape
            key = prefix + name
            if key not in state_dict and name in ("image_size", "fitted_space"):
                state_dict[key] = getattr(self, name).new_zeros(0)  # an older checkpoint
            if key in state_dict:
                setattr(self, name, torch.empty_like(state_dict[key], device=self.steps.device))
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )

    def extra_repr(self) -> str:
        space = self.feature_space_name or type(self.feature_space).__name__
        return (
            f"feature_space={space!r}, weight={self.weight}, radius={self.options.radius!r}, "
            f"centers={self.num_centers}, per_class={self.options.per_class}, "
            f"adaptive={self.options.adaptive}, fitted={self.fitted}"
        )


def _build_space(feature_space: str | nn.Module, options: dict[str, Any]) -> list[nn.Module]:
    """``[φ]``: a registered space built frozen, or the caller's module behind a FrozenView."""
    if isinstance(feature_space, str):
        space: nn.Module = get_feature_space(feature_space, **options)
    elif isinstance(feature_space, nn.Module):
        if options:
            raise TypeError(
                f"feature space options {sorted(options)} only apply to a registered name; "
                "configure the module you passed yourself."
            )
        space = feature_space
    else:
        raise TypeError(
            "feature_space must be a registered name or an nn.Module, got "
            f"{type(feature_space).__name__}."
        )
    if getattr(space, "differentiable", True) is False:
        name = getattr(space, "name", type(space).__name__)
        raise FeatureSpaceError(
            f"the {name!r} feature space is not differentiable (it quantises images to uint8), "
            "so no gradient could reach the generator. Use a differentiable space for the "
            "centroid, e.g. 'vgg16', 'clip', 'dino' or 'dinov2'; keep 'inception' for FID."
        )
    if isinstance(feature_space, str):
        for parameter in space.parameters():  # ours: freeze it for good
            parameter.requires_grad_(False)
        return [space.eval()]
    return [FrozenView(space)]


__all__ = ["CentroidLoss", "NotFittedError"]
