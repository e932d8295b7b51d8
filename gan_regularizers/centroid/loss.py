"""The feature-space centroid constraint of Seo & Park (2025), as a drop-in generator regularizer.

With a frozen feature network φ, fitted once on N training images:

* centre (eq. 1): ``c = (1/N) Σ_i φ(x_i)``
* reference distance (eq. 2): ``d_ref = (1/N) Σ_i ‖φ(x_i) − c‖₂``
* penalty on a generated batch (eq. 3): ``L = (1/M) Σ_j max(0, ‖φ(x̂_j) − c‖₂ − d_ref)``
* the generator minimises ``L_adv + λ·L`` (eq. 4, ``λ = 0.1``); ``forward`` returns ``λ·L``.

Unlike the authors' released code, the penalty is differentiable end to end (gradients reach the
generator through φ) and real and fake images take the same preprocessing.

Beyond the paper: ``radius="quantile"`` (a ``q``-quantile d_ref), ``centers=k`` (k-means centres,
each sample held to its nearest centre and that centre's own d_ref), ``per_class=True`` (one
centre per label), and schedules (``warmup_steps`` linear warm-up, ``every=k`` lazy application
with weight ``λ·k``, as StyleGAN2's lazy regularisation).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gan_regularizers._version import __version__
from gan_regularizers.centroid.group_statistics import (
    FeatureBatch,
    FeaturePasses,
    GroupStatistics,
    class_statistics,
    kmeans_statistics,
    single_group_statistics,
)
from gan_regularizers.data.batches import is_reiterable, iterate_batches, length_hint
from gan_regularizers.distributed import (
    all_reduce_sum,
    all_reduce_sum_or_none,
    broadcast_object,
    rank_and_world_size,
)
from gan_regularizers.errors import NotFittedError
from gan_regularizers.files.statistics_files import (
    ImageFingerprint,
    StatisticsFileError,
    atomic_torch_save,
    cache_dir,
    checked_torch_load,
    descriptor_differences,
    module_descriptor,
    stable_hash,
)
from gan_regularizers.plugin_system.registry import get_feature_space

FILE_FORMAT = "gan-regularizers/centroid-statistics"
FILE_FORMAT_VERSION = 1
DEFAULT_MEMORY_BUDGET = 1 << 30  # bytes of features kept to skip the second backbone pass

PRESETS: dict[str, dict[str, Any]] = {
    "paper": {
        "feature_space": "vgg16",
        "feature_space_options": {"layer": "features.16", "pooling": "none"},
        "projection": None,
    },
    "released-code": {
        "feature_space": "vgg16",
        "feature_space_options": {"layer": "features.16", "pooling": "avg"},
        "projection": 2,
    },
}
_STATE_BUFFERS = (
    "center",
    "d_ref",
    "num_images",
    "center_counts",
    "classes",
    "projection_mean",
    "projection_components",
    "steps",
)


class CentroidLoss(nn.Module):
    """Penalise generated samples further from the real features' centre than real ones are.

    Args:
        feature_space: a registered name (``"vgg16"``, ``"clip"``, ``"mnist-features"``, …), a
            feature-space object, or any ``nn.Module`` mapping images to features (flattened to
            ``B×d``; its parameters are frozen).
        weight: λ of eq. (4). ``0`` costs nothing: the backbone is not run.
        preset: ``"paper"`` (VGG-16 ``features.16``, flattened) or ``"released-code"`` (pool3,
            spatial average, 2-D PCA fitted on the training features, kept differentiable).
        radius: ``"mean"`` (eq. 2) or ``"quantile"`` (the ``q``-quantile of real distances).
        q: the quantile for ``radius="quantile"``, in (0, 1].
        centers: number of k-means centres (1 = the paper).
        per_class: one centre per label (data must yield ``(image, label)``).
        warmup_steps: ramp λ linearly from ``λ/warmup_steps`` to λ over that many steps.
        every: apply the penalty every ``every`` generator steps, with weight ``λ·every``.
        memory_budget: bytes of features ``fit`` may keep to avoid a second backbone pass.
        kmeans_iterations, seed: Lloyd iterations and k-means++ seed for ``centers > 1``.
        progress: show progress bars while fitting.
        **feature_space_options: passed to the registered feature space's factory.

    Buffers (in ``state_dict`` and checkpoints): ``center`` (``d`` or ``k×d``), ``d_ref``
    (scalar or ``k``), ``num_images``, ``center_counts``, ``classes``, the projection and the
    step counter used by schedules.
    """

    def __init__(
        self,
        feature_space: str | nn.Module = "vgg16",
        weight: float = 0.1,
        *,
        preset: str | None = None,
        radius: str = "mean",
        q: float = 0.9,
        centers: int = 1,
        per_class: bool = False,
        warmup_steps: int = 0,
        every: int = 1,
        memory_budget: int = DEFAULT_MEMORY_BUDGET,
        kmeans_iterations: int = 20,
        seed: int = 0,
        progress: bool = True,
        **feature_space_options: Any,
    ) -> None:
        super().__init__()
        _validate_options(weight, radius, q, centers, per_class, warmup_steps, every)
        projection: int | None = None
        if preset is not None:
            if preset not in PRESETS:
                raise ValueError(f"Unknown preset {preset!r}; choose one of {', '.join(PRESETS)}.")
            chosen = PRESETS[preset]
            if feature_space != chosen["feature_space"]:
                raise ValueError(
                    f"preset {preset!r} fixes feature_space={chosen['feature_space']!r}; "
                    f"remove feature_space={feature_space!r} or the preset."
                )
            clash = set(feature_space_options) & set(chosen["feature_space_options"])
            if clash:
                raise ValueError(
                    f"preset {preset!r} fixes {', '.join(sorted(clash))}; remove them or the "
                    "preset."
                )
            feature_space_options = {**chosen["feature_space_options"], **feature_space_options}
            projection = chosen["projection"]
        self.weight = float(weight)
        self.preset = preset
        self.radius = radius
        self.q = float(q)
        self.num_centers = int(centers)
        self.per_class = bool(per_class)
        self.warmup_steps = int(warmup_steps)
        self.every = int(every)
        self.memory_budget = int(memory_budget)
        self.kmeans_iterations = int(kmeans_iterations)
        self.seed = int(seed)
        self.progress = progress
        self.projection_dim = projection
        self.feature_space_name = feature_space if isinstance(feature_space, str) else None
        self.feature_space_options = dict(feature_space_options)
        self._space = [self._build_space(feature_space, feature_space_options)]
        for name in _STATE_BUFFERS:
            integer = name in ("num_images", "center_counts", "classes", "steps")
            shape = () if name in ("num_images", "steps") else (0,)
            self.register_buffer(
                name, torch.zeros(shape, dtype=torch.int64 if integer else torch.float64)
            )
        self._last: tuple[torch.Tensor, ...] | None = None
        self._warned_no_grad = False

    # -- construction --------------------------------------------------------------------------
    @staticmethod
    def _build_space(feature_space: str | nn.Module, options: dict[str, Any]) -> nn.Module:
        if isinstance(feature_space, str):
            space = get_feature_space(feature_space, **options)
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
        for parameter in space.parameters():
            parameter.requires_grad_(False)
        return space.eval()

    @property
    def feature_space(self) -> nn.Module:
        """The frozen feature network φ (not a submodule: its weights stay out of checkpoints)."""
        return self._space[0]

    @property
    def descriptor(self) -> dict[str, Any]:
        """The feature space's descriptor plus the projection; statistics key on it."""
        return {
            **module_descriptor(self.feature_space),
            "projection": None if self.projection_dim is None else f"pca{self.projection_dim}",
        }

    def _apply(self, fn: Any, recurse: bool = True) -> CentroidLoss:  # .to(), .cuda(), .double()
        super()._apply(fn, recurse)
        self.feature_space._apply(fn)
        return self

    def train(self, mode: bool = True) -> CentroidLoss:
        """Set the module's mode; the feature space always stays in eval mode."""
        super().train(mode)
        self.feature_space.eval()
        return self

    @property
    def fitted(self) -> bool:
        """True once statistics were fitted, loaded or restored from a state dict."""
        return int(self.num_images) > 0

    # -- the penalty ---------------------------------------------------------------------------
    def _raw_features(self, images: torch.Tensor) -> torch.Tensor:
        features = self.feature_space(images)
        return features.reshape(features.shape[0], -1).float()

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """``φ(images)`` as ``B×d`` float32, projected when the preset has a projection."""
        features = self._raw_features(images)
        if self.projection_components.numel():
            features = (features - self.projection_mean.float()) @ (
                self.projection_components.float().T
            )
        return features

    def _schedule_factor(self, step: int) -> float:
        factor = float(self.every)
        if self.warmup_steps > 0:
            factor *= min(1.0, step / self.warmup_steps)
        return factor

    def forward(self, fake: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """``weight · (1/M) Σ_j max(0, ‖φ(x̂_j) − c‖₂ − d_ref)`` for fakes in ``[-1, 1]``.

        With several centres each sample is held to its nearest centre (or, with
        ``per_class=True`` and ``labels``, to its class centre) and that centre's own d_ref.
        """
        if self.weight == 0.0:
            return torch.zeros((), device=fake.device, dtype=torch.float32)
        self._require_fitted()
        training = torch.is_grad_enabled()
        if training:
            self.steps += 1
        self._warn_if_no_gradient(fake, training)
        step = int(self.steps)
        if training and (step - 1) % self.every != 0:
            return torch.zeros((), device=fake.device, dtype=torch.float32)
        features = self.features(fake)
        with torch.autocast(device_type=features.device.type, enabled=False):
            penalty = self._penalty(features.float(), labels)
        factor = self._schedule_factor(step) if training else 1.0
        return (self.weight * factor) * penalty

    def _penalty(self, features: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        centers = self.center.float().reshape(-1, self.center.shape[-1])
        radii = self.d_ref.float().reshape(-1)
        if centers.shape[1] != features.shape[1]:
            raise ValueError(
                f"the feature space gives {features.shape[1]}-d features but the statistics are "
                f"{centers.shape[1]}-d; they were fitted in another space. Fit again."
            )
        if centers.shape[0] == 1:
            groups = torch.zeros(features.shape[0], dtype=torch.long, device=features.device)
        elif self.per_class and labels is not None:
            lookup = {int(c): g for g, c in enumerate(self.classes.tolist())}
            groups = torch.tensor(
                [lookup[int(label)] for label in labels.reshape(-1).tolist()],
                device=features.device,
            )
        else:
            groups = torch.cdist(
                features.detach(), centers, compute_mode="donot_use_mm_for_euclid_dist"
            ).argmin(dim=1)
        distances = torch.linalg.vector_norm(features - centers[groups], dim=1)
        excess = torch.relu(distances - radii[groups])
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
        return {"fraction_penalised": fraction, "mean_distance": distance, "mean_excess": excess}

    def _require_fitted(self) -> None:
        if not self.fitted:
            raise NotFittedError(
                "CentroidLoss has no reference statistics yet. Call .fit(real_images) before "
                "training, or CentroidLoss.load(path) / load_state_dict(checkpoint)."
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
                images, N and options match; store them after fitting otherwise.
            cache_key: identify the data by this string instead of hashing every image.

        Returns:
            self.
        """
        if cache:
            path = self._cache_path(data, max_images, batch_size, cache_key)
            payload = _read_on_rank_zero(path)  # rank 0 decides and reads; the others receive
            if isinstance(payload, dict):
                try:
                    self._load_payload(payload, str(path))
                    return self
                except StatisticsFileError as error:  # the same on every rank: same payload
                    warnings.warn(f"ignoring an unreadable cache entry: {error}", stacklevel=2)
            elif isinstance(payload, str):
                warnings.warn(f"ignoring an unreadable cache entry: {payload}", stacklevel=2)
        self._fit(data, max_images, batch_size)
        if cache and rank_and_world_size()[0] == 0:
            self.save(path)
        return self

    def _fit(self, data: Any, max_images: int | None, batch_size: int) -> None:
        device = self._device()
        total = length_hint(data, max_images)
        rank, _ = rank_and_world_size()

        def compute() -> Iterator[FeatureBatch]:
            for batch in iterate_batches(data, batch_size, max_images):
                yield self._fit_features(batch.images, device), batch.labels

        def progress(batches: Iterator[FeatureBatch], description: str) -> Iterator[FeatureBatch]:
            from tqdm.auto import tqdm

            with tqdm(
                total=total,
                desc=f"centroid {description}",
                unit="img",
                disable=not self.progress or rank != 0,
                leave=False,
            ) as bar:
                for features, labels in batches:
                    bar.update(features.shape[0])
                    yield features, labels

        passes = FeaturePasses(compute, self.memory_budget, is_reiterable(data), progress)
        if self.projection_dim is not None:
            mean, components = _fit_pca(passes, self.projection_dim)
            self.projection_mean = mean
            self.projection_components = components
            passes = _projected(passes, mean.float(), components.float())
        else:
            self.projection_mean = torch.zeros(0, dtype=torch.float64, device=device)
            self.projection_components = torch.zeros(0, dtype=torch.float64, device=device)
        classes = torch.zeros(0, dtype=torch.long)
        if self.per_class:
            statistics, classes = class_statistics(passes, self.radius, self.q)
        elif self.num_centers > 1:
            statistics = kmeans_statistics(
                passes, self.num_centers, self.radius, self.q, self.kmeans_iterations, self.seed
            )
        else:
            statistics = single_group_statistics(passes, self.radius, self.q)
        self._set_statistics(statistics, classes.to(device))

    def _fit_features(self, images: torch.Tensor, device: torch.device) -> torch.Tensor:
        images = images.to(device)
        if not images.is_floating_point():
            raise TypeError(
                f"fit() got images of dtype {images.dtype}; expected floats in [-1, 1]. "
                "Convert them, e.g. images.float() / 127.5 - 1."
            )
        low, high = float(images.min()), float(images.max())
        if not (math.isfinite(low) and math.isfinite(high)):
            raise ValueError("fit() got images with NaN or Inf values.")
        if low < -1.01 or high > 1.01:
            raise ValueError(
                f"fit() got images ranging over [{low:.4g}, {high:.4g}]; expected [-1, 1], the "
                "generator's range. Scale them, e.g. x * 2 - 1 for [0, 1] or x / 127.5 - 1 for "
                "[0, 255]."
            )
        with torch.no_grad():
            features = self._raw_features(images)
        if not torch.isfinite(features).all():
            raise ValueError(
                "the feature space returned NaN or Inf features for real images; check the "
                "backbone's weights and the images."
            )
        return features

    def _set_statistics(self, statistics: GroupStatistics, classes: torch.Tensor) -> None:
        device = self._device()  # a rank with an empty shard got its sums on another device
        statistics = GroupStatistics(
            statistics.centers.to(device), statistics.radii.to(device), statistics.counts.to(device)
        )
        total = int(statistics.counts.sum())
        if total < 2:
            raise ValueError(
                f"fit() saw {total} image(s); the reference distance needs at least 2. Pass more "
                "data or a larger max_images."
            )
        if float(statistics.radii.max()) == 0.0:
            raise ValueError(
                "every reference image has the same features, so d_ref = 0 and every generated "
                "sample would be penalised. Check that the dataset is not one repeated image."
            )
        single = statistics.centers.shape[0] == 1 and not self.per_class
        self.center = statistics.centers[0] if single else statistics.centers
        self.d_ref = statistics.radii[0] if single else statistics.radii
        self.center_counts = statistics.counts
        self.num_images = torch.tensor(total, dtype=torch.int64, device=self.center.device)
        self.classes = classes

    def _device(self) -> torch.device:
        for tensor in self.feature_space.parameters():
            return tensor.device
        for tensor in self.feature_space.buffers():
            return tensor.device
        return self.steps.device

    # -- files and cache -----------------------------------------------------------------------
    def _options(self) -> dict[str, Any]:
        return {
            "preset": self.preset,
            "radius": self.radius,
            "q": self.q,
            "centers": self.num_centers,
            "per_class": self.per_class,
            "projection": self.projection_dim,
            "kmeans_iterations": self.kmeans_iterations,
            "seed": self.seed,
        }

    def _cache_path(
        self, data: Any, max_images: int | None, batch_size: int, cache_key: str | None
    ) -> Path:
        fingerprint = ImageFingerprint()
        if cache_key is None:
            for batch in iterate_batches(data, batch_size, max_images):
                fingerprint.update(batch.images)
            digests = fingerprint.merged_across_ranks()
            data_id = {"images_sha256": digests.hexdigest(), "num_images": digests.count}
        else:
            data_id = {"cache_key": cache_key, "max_images": max_images}
        key = stable_hash(
            {"descriptor": self.descriptor, "data": data_id, "options": self._options()}
        )
        return cache_dir() / f"centroid-{key[:40]}.pt"

    def save(self, path: str | Path) -> Path:
        """Write the statistics, the feature space's descriptor and the options, atomically."""
        self._require_fitted()
        payload = {
            "format": FILE_FORMAT,
            "format_version": FILE_FORMAT_VERSION,
            "package_version": __version__,
            "descriptor": self.descriptor,
            "feature_space": self.feature_space_name,
            "feature_space_options": self.feature_space_options,
            "options": self._options(),
            "state": {name: getattr(self, name).detach().cpu() for name in _STATE_BUFFERS},
        }
        return atomic_torch_save(payload, path)

    @classmethod
    def load(
        cls, path: str | Path, feature_space: str | nn.Module | None = None, **options: Any
    ) -> CentroidLoss:
        """Rebuild a fitted ``CentroidLoss`` from :meth:`save`'s file.

        The feature space is rebuilt from the file's name and options unless ``feature_space``
        (and options) are given; loading into a space whose descriptor differs is refused.
        """
        payload = checked_torch_load(path, FILE_FORMAT)
        stored = payload["options"]
        space = feature_space if feature_space is not None else payload["feature_space"]
        if space is None:
            raise StatisticsFileError(
                f"{path} was fitted with a custom feature-space module; pass it as "
                "CentroidLoss.load(path, feature_space=module)."
            )
        preset = options.pop("preset", stored["preset"])
        space_options = dict(payload["feature_space_options"]) if feature_space is None else {}
        if preset is not None:
            for key in PRESETS[preset]["feature_space_options"]:
                space_options.pop(key, None)
        space_options.update({k: v for k, v in options.items() if k not in _LOSS_OPTIONS})
        loss_options = {
            "radius": stored["radius"],
            "q": stored["q"],
            "centers": stored["centers"],
            "per_class": stored["per_class"],
            "kmeans_iterations": stored["kmeans_iterations"],
            "seed": stored["seed"],
            **{k: v for k, v in options.items() if k in _LOSS_OPTIONS},
        }
        loss = cls(space, preset=preset, **loss_options, **space_options)
        loss._load_payload(payload, str(path))
        return loss

    def _load_payload(self, payload: dict[str, Any], source: str) -> None:
        differences = descriptor_differences(payload["descriptor"], self.descriptor)
        if differences:
            raise StatisticsFileError(
                f"{source} was fitted in a different feature space; refusing to apply it. "
                f"Differences: {'; '.join(differences)}. Fit the statistics again in this space."
            )
        for name in ("radius", "q", "centers", "per_class", "projection"):
            if payload["options"].get(name) != self._options().get(name):
                raise StatisticsFileError(
                    f"{source} was fitted with {name}={payload['options'].get(name)!r} but this "
                    f"loss has {name}={self._options().get(name)!r}. Fit again or match it."
                )
        state = payload["state"]
        missing = [name for name in _STATE_BUFFERS if name not in state]
        if missing:
            raise StatisticsFileError(f"{source} lacks {', '.join(missing)}; fit again.")
        device = self.steps.device
        for name in _STATE_BUFFERS:
            setattr(self, name, state[name].to(device))

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
        for name in _STATE_BUFFERS:  # an unfitted loss accepts fitted statistics of any shape
            key = prefix + name
            if key in state_dict:
                setattr(self, name, torch.empty_like(state_dict[key], device=self.steps.device))
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )

    def extra_repr(self) -> str:
        space = self.feature_space_name or type(self.feature_space).__name__
        return (
            f"feature_space={space!r}, weight={self.weight}, radius={self.radius!r}, "
            f"centers={self.num_centers}, per_class={self.per_class}, fitted={self.fitted}"
        )


_LOSS_OPTIONS = {
    "weight",
    "radius",
    "q",
    "centers",
    "per_class",
    "warmup_steps",
    "every",
    "memory_budget",
    "kmeans_iterations",
    "seed",
    "progress",
}


def _validate_options(
    weight: float,
    radius: str,
    q: float,
    centers: int,
    per_class: bool,
    warmup_steps: int,
    every: int,
) -> None:
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight >= 0:
        raise ValueError(f"weight must be a number ≥ 0, got {weight!r}.")
    if radius not in ("mean", "quantile"):
        raise ValueError(f"radius must be 'mean' or 'quantile', got {radius!r}.")
    if not 0.0 < q <= 1.0:
        raise ValueError(f"q must be in (0, 1], got {q!r}.")
    if not isinstance(centers, int) or centers < 1:
        raise ValueError(f"centers must be a positive integer, got {centers!r}.")
    if per_class and centers != 1:
        raise ValueError("per_class=True sets one centre per label; leave centers=1.")
    if not isinstance(warmup_steps, int) or warmup_steps < 0:
        raise ValueError(f"warmup_steps must be an integer ≥ 0, got {warmup_steps!r}.")
    if not isinstance(every, int) or every < 1:
        raise ValueError(f"every must be a positive integer, got {every!r}.")


def _fit_pca(passes: FeaturePasses, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and the top ``dim`` principal axes (rows) of the features, in float64."""
    local_sum: torch.Tensor | None = None
    local_outer: torch.Tensor | None = None
    count = 0
    for features, _ in passes("projection"):
        values = features.double()
        if local_sum is None or local_outer is None:
            local_sum = values.new_zeros(values.shape[1])
            local_outer = values.new_zeros(values.shape[1], values.shape[1])
        local_sum += values.sum(dim=0)
        local_outer += values.T @ values
        count += values.shape[0]
    # a rank with an empty shard contributes zeros; only the global count decides the error
    total_sum, total_outer = all_reduce_sum_or_none(local_sum), all_reduce_sum_or_none(local_outer)
    if total_sum is None or total_outer is None:
        raise ValueError("the released-code projection needs at least 2 images.")
    count_t = all_reduce_sum(
        torch.tensor(float(count), dtype=torch.float64, device=total_sum.device)
    )
    if float(count_t) < 2:
        raise ValueError("the released-code projection needs at least 2 images.")
    mean = total_sum / count_t
    covariance = total_outer / count_t - torch.outer(mean, mean)
    _, vectors = torch.linalg.eigh((covariance + covariance.T) / 2)
    components = vectors[:, -dim:].flip(1).T.contiguous()
    signs = torch.sign(components.gather(1, components.abs().argmax(dim=1, keepdim=True)))
    return mean, components * signs


def _read_on_rank_zero(path: Path) -> dict[str, Any] | str | None:
    """The cache entry as rank 0 reads it, on every rank: a payload, an error text, or None.

    Only rank 0 looks at the file system, so ranks never disagree about a hit (the cache folder
    need not be shared between nodes).
    """
    outcome: dict[str, Any] | str | None = None
    if rank_and_world_size()[0] == 0 and path.is_file():
        try:
            outcome = checked_torch_load(path, FILE_FORMAT)
        except StatisticsFileError as error:
            outcome = str(error)
    return broadcast_object(outcome)  # type: ignore[return-value]


def _projected(
    passes: FeaturePasses, mean: torch.Tensor, components: torch.Tensor
) -> Callable[[str], Iterator[FeatureBatch]]:
    def project(description: str) -> Iterator[FeatureBatch]:
        for features, labels in passes(description):
            yield (features - mean) @ components.T, labels

    return project


__all__ = ["CentroidLoss", "NotFittedError"]
