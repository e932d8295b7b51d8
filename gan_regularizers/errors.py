"""Every exception and warning that users of gan-regularizers can meet, in one hierarchy.

Each error a user can cause derives from ``GanRegularizersError`` and, where it has one,
from the builtin it used to be (``ConfigError`` is a ``ValueError``), so ``except ValueError``
keeps working. Each warning derives from ``GanRegularizersWarning``. The CLI prints a
``GanRegularizersError`` as one line ``gan-regularizers <command>: error: <message>`` (exit 1).
No other module defines an exception or warning class (``tests/test_errors.py`` checks it).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class GanRegularizersError(Exception):
    """Base class of every error raised on purpose by gan-regularizers."""


class UnknownNameError(GanRegularizersError, KeyError):
    """A loss, regularizer or feature space name that no plugin registered."""

    def __init__(self, kind: str, name: str, available: Iterable[str]) -> None:
        self.kind = kind
        self.name = name
        self.available = sorted(available)
        close = difflib.get_close_matches(name, self.available, n=3, cutoff=0.5)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        listed = ", ".join(self.available) if self.available else "(none registered)"
        plural = f"{kind}es" if kind.endswith("s") else f"{kind}s"
        self.message = (
            f"Unknown {kind} {name!r}.{hint} Available {plural}: {listed}. "
            "Install the plugin that provides it, or run `gan-regularizers plugins` to see "
            "what is loaded."
        )
        super().__init__(self.message)

    def __str__(self) -> str:  # KeyError would print the repr of the message
        return self.message


class DuplicateNameError(GanRegularizersError):
    """Two plugins registered the same name for the same kind of thing."""


class MissingExtraError(GanRegularizersError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""

    def __init__(self, module: str, extra: str, feature: str) -> None:
        self.module = module
        self.extra = extra
        message = (
            f"{feature} needs the optional package {module!r}, which is not installed. "
            f'Install it with: pip install "gan-regularizers[{extra}]"'
        )
        super().__init__(message, name=module)


# -- inputs: tensors a user passes ------------------------------------------------------------
class InputValueError(GanRegularizersError, ValueError):
    """A tensor of the wrong shape, channel count or range, or holding NaN/Inf."""


class InputTypeError(GanRegularizersError, TypeError):
    """Not a tensor, or a tensor of the wrong dtype (integers where floats are expected)."""


# -- specs, configs and data ------------------------------------------------------------------
class SpecError(GanRegularizersError, ValueError):
    """A malformed ``name:key=value,…`` spec."""


class ConfigError(GanRegularizersError, ValueError):
    """An unknown config key or an invalid value; the message names the key."""


class DataSpecError(GanRegularizersError, ValueError):
    """A dataset spec that names no known source."""


# -- files: weights, statistics, checkpoints --------------------------------------------------
class WeightsUnavailableError(GanRegularizersError, OSError):
    """Pretrained weights are not cached and cannot be fetched (offline, or no connection)."""


class WeightsFileError(GanRegularizersError, ValueError):
    """A local weights file is missing, unreadable, or does not fit the backbone."""


class WeightsChecksumError(WeightsFileError):
    """A weights file whose sha256 is not the one expected (corrupt, truncated or replaced)."""


class MissingWeightsError(WeightsFileError, FileNotFoundError):
    """A weights file that is not where it should be."""


class StatisticsFileError(GanRegularizersError):
    """A statistics file is missing, truncated, corrupt, or was fitted in another space."""


class CheckpointError(GanRegularizersError):
    """A missing, truncated or foreign checkpoint file."""


# -- the centroid, metrics, training and distributed runs -------------------------------------
class NotFittedError(GanRegularizersError, RuntimeError):
    """The centroid statistics are needed but were neither fitted nor loaded."""


class MetricError(GanRegularizersError, ValueError):
    """An unknown metric name, or a metric that cannot be computed on these inputs."""


class NonFiniteLossError(GanRegularizersError, FloatingPointError):
    """A loss term became NaN or Inf; the message names the step and the term."""

    def __init__(self, message: str, step: int, term: str) -> None:
        super().__init__(message)
        self.step, self.term = step, term


class DistributedError(GanRegularizersError, RuntimeError):
    """torch.distributed was set up wrongly, or the ranks disagree."""


class ConsistencyError(GanRegularizersError, RuntimeError):
    """The ranks of a distributed run hold different parameters or buffers."""


class RunFolderError(GanRegularizersError):
    """The run folder is not ours to write into (a user's folder with files in it)."""


class GradientPenaltyError(GanRegularizersError, RuntimeError):
    """A gradient penalty (R1, R2, WGAN-GP) on a discriminator whose output ignores its input."""


class InUseError(GanRegularizersError):
    """Another process is writing the run folder or output file (it holds the lock file)."""


class StudyError(GanRegularizersError):
    """A study cannot run, report or verify as asked (the message says what to do)."""


class StudyFileError(StudyError, ConfigError):
    """A study file (TOML) that does not follow the schema; the message names the key."""


class TrainingDataError(GanRegularizersError, ValueError):
    """The training images are not in the range the generator produces ([-1, 1])."""


class CheckpointWriteError(GanRegularizersError, OSError):
    """A checkpoint could not be written (e.g. no space left); the previous one is kept."""


class InvalidLogitsError(InputValueError):
    """Discriminator logits a loss cannot use as given (missing, mismatched batch sizes)."""


class InvalidLogitsTypeError(InputTypeError):
    """Discriminator logits of the wrong type (not a tensor, or an integer tensor)."""


class InvalidOptionError(GanRegularizersError, ValueError):
    """A loss, regularizer or augmentation option outside its allowed range."""


class PluginContractError(GanRegularizersError, TypeError):
    """A plugin's factory built an object that does not satisfy its contract (e.g. a loss without
    ``generator_loss``); raised when the object is built, not at the first training step."""


class PluginOptionError(GanRegularizersError, TypeError):
    """An option a loss, regularizer, feature space or augmentation does not take, or a value
    of the wrong kind (a number for a file path); names the option and what is accepted."""

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        name: str,
        keys: list[str],
        accepted: list[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.kind, self.name, self.keys = kind, name, list(keys)
        self.accepted = None if accepted is None else list(accepted)


class PluginRegistrationError(GanRegularizersError, TypeError):
    """A plugin passed ``register`` something that is not a name and a callable factory."""


class FitDataError(GanRegularizersError, ValueError):
    """The data given to ``fit`` cannot give reference statistics (none, too few, wrong kind)."""


class ImageSizeError(GanRegularizersError, ValueError):
    """Images of another size than the statistics were fitted on."""


class FeatureSpaceError(GanRegularizersError, ValueError):
    """A feature space that cannot serve the requested use (e.g. not differentiable)."""


class FeatureMemoryError(MetricError):
    """Gathering the features a metric needs would exceed its ``max_features`` bound."""


# -- warnings ---------------------------------------------------------------------------------
class GanRegularizersWarning(UserWarning):
    """Base class of every warning issued by gan-regularizers."""


class PluginLoadWarning(GanRegularizersWarning):
    """A third-party plugin failed to load and was skipped."""


class RandomWeightsWarning(GanRegularizersWarning):
    """A feature space was built with random weights (``pretrained=False``)."""


class SameSpaceWarning(GanRegularizersWarning):
    """A metric is measured in the feature space a regularizer of the run optimised."""


class UnreadableImagesWarning(GanRegularizersWarning):
    """Some files of an image folder could not be read and were skipped."""


class TrainingDataWarning(GanRegularizersWarning):
    """The training images look like they are in [0, 1] while [-1, 1] is expected."""


class DiscriminatorSaturationWarning(GanRegularizersWarning):
    """The discriminator's outputs saturated for many consecutive logged intervals."""


class ProbabilitiesAsLogitsWarning(GanRegularizersWarning):
    """A loss that takes raw logits received values that all lie in [0, 1], repeatedly: the
    discriminator probably ends in a sigmoid."""


class InputRangeWarning(GanRegularizersWarning):
    """Images look like ``[0, 1]`` pixels while ``[-1, 1]`` was declared (fix: ``x * 2 - 1``)."""


class StaleLockWarning(GanRegularizersWarning):
    """A lock left by a process that no longer runs was taken over."""


class CacheWarning(GanRegularizersWarning):
    """The statistics cache could not be read or written; the work goes on without it."""
