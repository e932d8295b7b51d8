"""Backbone weights, offline first: hash files, load local ``weights=`` files, fail fast offline.

Pretrained weights are fetched by each backbone library's own mechanism (torchvision weight enums,
timm and open_clip pretrained tags) into that library's cache. This module adds what those
libraries lack on machines without internet:

* ``check_fetchable`` raises ``WeightsUnavailableError`` within seconds when a file is not
  cached and cannot be fetched (``HF_HUB_OFFLINE=1``, ``GAN_REGULARIZERS_OFFLINE=1``, or no TCP
  connection to the download host), instead of minute-long retry loops;
* ``hub_file`` finds (or fetches) a file of torch hub's cache and checks the sha256 prefix
  in its name, for ``load_state_dict_file`` to read weights-only (torchvision's own loaders
  would unpickle it);
* ``load_state_dict_file`` reads a local ``weights=`` file (``.safetensors``, ``torch.save``
  state dicts, checkpoints wrapping one, TorchScript archives);
* ``load_matching`` loads it strictly into the layers a feature space uses;
* ``file_sha256`` names the file that was loaded, for the feature space's descriptor;
* ``resolve_weights`` makes the file / pretrained / random choice for every backbone.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import socket
import threading
import urllib.parse
import urllib.request
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from gan_regularizers.errors import (
    RandomWeightsWarning,
    WeightsChecksumError,
    WeightsFileError,
    WeightsUnavailableError,
)

OFFLINE_ENV_VARS = ("GAN_REGULARIZERS_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
CONNECT_TIMEOUT_S = 3.0
_TRUE = {"1", "true", "yes", "on"}
_SHA256_MEMO: dict[tuple[str, int, int], str] = {}


def warn_random_weights(space: str) -> None:
    """Warn that ``pretrained=False`` features are not the pretrained network's."""
    warnings.warn(
        f"The {space!r} feature space uses randomly initialised weights (pretrained=False): its "
        "features are not the paper's and carry no meaning for FID, diversity or the centroid "
        "constraint. Use pretrained=True (the default) or weights='path/to/file' for real runs.",
        RandomWeightsWarning,
        stacklevel=3,
    )


def offline_reason() -> str | None:
    """Why downloads are off (``"HF_HUB_OFFLINE=1 is set"``), or ``None`` when they are allowed."""
    for name in OFFLINE_ENV_VARS:
        value = os.environ.get(name, "")
        if value.strip().lower() in _TRUE:
            return f"{name}={value} is set"
    return None


def _connect_target(url: str) -> tuple[str, int]:
    """The host and port a download of ``url`` connects to first (its proxy, when one is set)."""
    parsed = urllib.parse.urlsplit(url)
    host = parsed.hostname or url
    port = parsed.port or (80 if parsed.scheme == "http" else 443)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parsed.scheme or "https")
    if proxy and not urllib.request.proxy_bypass(host):
        proxy_url = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        return proxy_url.hostname or host, proxy_url.port or 8080
    return host, port


def can_connect(url: str, timeout: float = CONNECT_TIMEOUT_S) -> bool:
    """Whether a TCP connection to ``url``'s host (or proxy) opens within ``timeout`` seconds.

    The check runs in a daemon thread so that a slow DNS lookup cannot hold it past ``timeout``.
    """
    host, port = _connect_target(url)
    result: list[bool] = []

    def attempt() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=attempt, name="gan-regularizers-connect", daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])


def missing_extra_requirements(extra: str) -> list[str]:
    """The distributions of gan-regularizers' ``extra`` that are not installed (by metadata)."""
    import importlib.metadata as metadata

    try:
        requirements = metadata.requires("gan-regularizers") or []
    except metadata.PackageNotFoundError:  # run from a source tree that is not installed
        return []
    missing = []
    for requirement in requirements:
        name, _, marker = requirement.partition(";")
        if not re.search(rf"extra\s*==\s*['\"]{re.escape(extra)}['\"]", marker):
            continue
        distribution = re.split(r"[\s<>=!~\[(]", name.strip(), maxsplit=1)[0]
        try:
            metadata.version(distribution)
        except metadata.PackageNotFoundError:
            missing.append(distribution)
    return missing


def unavailable_error(
    *,
    backbone: str,
    expected: str | os.PathLike[str],
    reason: str,
    extra: str | None,
    example: str,
    spec: str | None = None,
) -> WeightsUnavailableError:
    """One error naming the backbone, where the file is expected, ``weights=`` and the extra.

    Args:
        backbone: what needs the weights, e.g. ``"vgg16 (torchvision, IMAGENET1K_V1)"``.
        expected: where the backbone library looks for its cached file.
        reason: why it could not be fetched (``"HF_HUB_OFFLINE=1 is set"``).
        extra: the gan-regularizers extra that installs the library (named only when some of
            its packages are missing), or ``None`` for core ones.
        example: a complete call that uses a local file, for the message.
        spec: the same as a spec option, e.g. ``"fid:weights=FILE"`` (for the CLI and TOML).
    """
    missing = missing_extra_requirements(extra) if extra else []
    install = (
        f' It also needs {", ".join(missing)}: pip install "gan-regularizers[{extra}]".'
        if missing
        else ""
    )
    in_spec = f" In a spec (CLI, TOML): {spec}." if spec else ""
    return WeightsUnavailableError(
        f"Pretrained weights for {backbone} are not available: they are not in the cache and "
        f"cannot be downloaded ({reason}). Expected at: {expected}. Either run once with "
        "internet access (and no offline variable set) so the library caches them, copy the file "
        f"there, or load a local file with the weights= option, e.g. {example}.{in_spec}"
        f"{install} pretrained=False gives random weights (features that are not meaningful)."
    )


def check_fetchable(
    url: str,
    *,
    backbone: str,
    expected: str | os.PathLike[str],
    extra: str | None,
    example: str,
    hub: bool = False,
    spec: str | None = None,
) -> None:
    """Raise ``WeightsUnavailableError`` fast when ``url`` cannot be downloaded now.

    Call it only when the weights are not cached. Offline variables are checked first (no
    network access at all; ``hub=True`` also honours huggingface_hub's own offline mode);
    otherwise one TCP connection to the host is tried for at most ``CONNECT_TIMEOUT_S`` s.
    """
    reason = hf_offline_reason() if hub else offline_reason()
    if reason is None and not can_connect(url):
        host, port = _connect_target(url)
        reason = f"no connection to {host}:{port} within {CONNECT_TIMEOUT_S:g} s"
    if reason is not None:
        raise unavailable_error(
            backbone=backbone,
            expected=expected,
            reason=reason,
            extra=extra,
            example=example,
            spec=spec,
        )


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file's bytes (memoised per path, size and modification time)."""
    resolved = Path(path).resolve()
    stat = resolved.stat()
    key = (str(resolved), stat.st_size, stat.st_mtime_ns)
    if key not in _SHA256_MEMO:
        digest = hashlib.sha256()
        with resolved.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                digest.update(block)
        _SHA256_MEMO[key] = digest.hexdigest()
    return _SHA256_MEMO[key]


def hf_cached_file(repo_id: str, filenames: Iterable[str]) -> Path | None:
    """The first of ``filenames`` in the Hugging Face cache for ``repo_id``, or ``None``."""
    from huggingface_hub import try_to_load_from_cache

    for filename in filenames:
        found = try_to_load_from_cache(repo_id, filename)
        if isinstance(found, str) and os.path.isfile(found):
            return Path(found)
    return None


def hf_cache_location(repo_id: str) -> Path:
    """The folder of ``repo_id`` in the Hugging Face cache (``$HF_HUB_CACHE/models--org--name``)."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE) / f"models--{repo_id.replace('/', '--')}"


def hf_offline_reason() -> str | None:
    """Like ``offline_reason``, also honouring an ``HF_HUB_OFFLINE`` read at hub import."""
    reason = offline_reason()
    if reason is None:
        from huggingface_hub import constants

        if getattr(constants, "HF_HUB_OFFLINE", False):
            reason = "huggingface_hub is in offline mode (HF_HUB_OFFLINE)"
    return reason


def _unwrap(loaded: object, path: Path) -> dict[str, torch.Tensor]:
    """The state dict inside a checkpoint: plain, or under ``state_dict``/``model``/``module``."""
    if isinstance(loaded, torch.jit.ScriptModule):  # torch.load hands TorchScript to torch.jit
        loaded = loaded.state_dict()
    for _ in range(3):
        if (
            isinstance(loaded, Mapping)
            and loaded
            and all(isinstance(v, torch.Tensor) for v in loaded.values())
        ):
            break
        if isinstance(loaded, Mapping):
            inner = next(
                (loaded[k] for k in ("state_dict", "model", "module") if k in loaded), None
            )
            if isinstance(inner, Mapping):
                loaded = inner
                continue
        raise WeightsFileError(
            f"{path} does not hold a state dict (a mapping of parameter names to tensors); "
            f"found {type(loaded).__name__}. Save one with torch.save(model.state_dict(), path) "
            "or safetensors.torch.save_file(model.state_dict(), path)."
        )
    state = {str(k): v for k, v in loaded.items() if isinstance(v, torch.Tensor)}
    if all(k.startswith("module.") for k in state):  # saved from DistributedDataParallel
        state = {k.removeprefix("module."): v for k, v in state.items()}
    return state


def checked_path(value: object, *, option: str) -> str | os.PathLike[str]:
    """``value`` when it is a path (``str`` or ``os.PathLike``), else a clear error naming it.

    Raises:
        WeightsFileError: a number, a boolean or another object where a file path is expected
            (``centroid:weights=0.1`` meant ``weight=0.1``, the regularizer's λ).
    """
    if isinstance(value, (str, os.PathLike)):
        return value
    hint = (
        f" Did you mean weight={value!r} (a regularizer's λ, without the s)?"
        if option == "weights" and isinstance(value, (int, float)) and not isinstance(value, bool)
        else ""
    )
    raise WeightsFileError(
        f"{option}={value!r}: expected the path of a local weights file (a string), got a "
        f"{type(value).__name__}.{hint} Pass {option}=path/to/file.pth, or leave it unset for the "
        "pretrained weights."
    )


def hub_cache_file(url: str) -> Path:
    """Where torch hub caches ``url``: ``$TORCH_HOME/hub/checkpoints/<its file name>``."""
    name = os.path.basename(urllib.parse.urlsplit(url).path)
    return Path(torch.hub.get_dir()) / "checkpoints" / name


def hub_file(
    url: str,
    *,
    backbone: str,
    example: str,
    extra: str | None = None,
    spec: str | None = None,
) -> Path:
    """torch hub's cached file of ``url``, downloaded there when missing, its sha256 checked.

    torchvision's loaders (and lpips, which calls them) unpickle this cache with
    ``weights_only=False``: a pickle placed at the path would run code. Read the returned file
    with ``load_state_dict_file`` (``weights_only=True``) instead; it is first checked
    against the sha256 prefix its name carries (``vgg16-397923af.pth``). A missing file is
    downloaded (fast failure offline, as ``check_fetchable``).

    Raises:
        WeightsUnavailableError: not cached and cannot be downloaded now.
        WeightsChecksumError: the cached file's sha256 does not start with its name's prefix.
    """
    cached = hub_cache_file(url)
    found = re.search(r"-([a-f0-9]+)\.", cached.name)
    prefix = found.group(1) if found else None
    if not cached.is_file():
        check_fetchable(
            url, backbone=backbone, expected=cached, extra=extra, example=example, spec=spec
        )
        cached.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(url, str(cached), hash_prefix=prefix, progress=True)
    digest = file_sha256(cached)
    if prefix and not digest.startswith(prefix):
        raise WeightsChecksumError(
            f"{cached}, torch hub's cached file of {backbone}, has sha256 {digest[:16]}…, but "
            f"its name says it starts with {prefix}: the file is damaged or was replaced, and is "
            "not loaded. Delete it (it is downloaded again when online), or pass a file you "
            f"trust with weights=, e.g. {example}."
        )
    return cached


def load_state_dict_file(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Read a weights file into a CPU state dict.

    Accepts ``.safetensors`` files, ``torch.save`` files (loaded with ``weights_only=True``, so no
    code runs), checkpoints that wrap the state dict under ``state_dict``/``model``/``module``, and
    TorchScript archives (e.g. OpenAI's original CLIP files).

    Raises:
        WeightsFileError: the file does not exist or holds no state dict.
    """
    file = Path(checked_path(path, option="weights")).expanduser()
    if not file.is_file():
        raise WeightsFileError(
            f"weights={str(path)!r}: no such file. Pass the path of a local weights file "
            "(a state dict saved with torch.save or safetensors)."
        )
    if file.suffix == ".safetensors":
        from safetensors.torch import load_file

        return _unwrap(load_file(str(file), device="cpu"), file)
    try:
        loaded = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as error:
        try:
            loaded = torch.jit.load(str(file), map_location="cpu").state_dict()
        except Exception:
            raise WeightsFileError(
                f"Could not read {file} as a torch.save state dict ({type(error).__name__}: "
                f"{error}). Expected a file written by torch.save(model.state_dict(), path) or "
                "a .safetensors file."
            ) from error
    return _unwrap(loaded, file)


def _listed(keys: Iterable[str], limit: int = 5) -> str:
    keys = sorted(keys)
    more = f" … (+{len(keys) - limit} more)" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def load_matching(
    module: nn.Module,
    state_dict: Mapping[str, torch.Tensor],
    *,
    backbone: str,
    source: str,
) -> None:
    """Copy ``state_dict`` into every parameter and buffer of ``module``, strictly.

    Keys of the file that ``module`` does not use (e.g. the classifier of a backbone cut at an
    earlier layer) are ignored; a key ``module`` needs that is missing or has another shape is an
    error.

    Raises:
        WeightsFileError: naming the missing or mismatched keys.
    """
    needed = module.state_dict()
    missing = [k for k in needed if k not in state_dict]
    wrong = [
        f"{k} {tuple(state_dict[k].shape)} (expected {tuple(v.shape)})"
        for k, v in needed.items()
        if k in state_dict and state_dict[k].shape != v.shape
    ]
    if missing or wrong:
        problems = []
        if missing:
            problems.append(f"{len(missing)} missing key(s): {_listed(missing)}")
        if wrong:
            problems.append(f"{len(wrong)} of another shape: {_listed(wrong)}")
        raise WeightsFileError(
            f"{source} does not fit {backbone}: {'; '.join(problems)}. Its keys start: "
            f"{_listed(state_dict, 3)}. Pass the state dict of the same architecture (as "
            "saved by the backbone library), or check the model name."
        )
    module.load_state_dict({k: state_dict[k] for k in needed}, strict=True)


@dataclass(frozen=True)
class ResolvedWeights:
    """Where a backbone's weights come from, as its descriptor records it.

    Attributes:
        tag: ``"file"``, the library's pretrained tag (``"IMAGENET1K_V1"``), or ``"random"``.
        sha256: the weights file's sha256 (``None`` for random weights, or a file the library
            has yet to download).
        state: the state dict to load, or ``None`` (random weights, or the library loads them).
        source: what the weights are, for messages (``"weights='vgg.pth'"``).
        file: the file read, when there is one.
    """

    tag: str
    sha256: str | None
    state: dict[str, torch.Tensor] | None
    source: str
    file: Path | None = None

    @property
    def random(self) -> bool:
        return self.tag == "random"


PretrainedFetcher = Callable[[], ResolvedWeights]


RANDOM_INIT_SEED = 0


@contextlib.contextmanager
def seeded_init(seed: int = RANDOM_INIT_SEED) -> Iterator[None]:
    """Build random weights from ``torch.manual_seed(seed)``, leaving the caller's RNG as it was:
    a ``pretrained=False`` feature space is the same network in every run and on every rank."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def resolve_weights(
    space: str,
    *,
    weights: str | os.PathLike[str] | None,
    pretrained: bool,
    fetch_pretrained: PretrainedFetcher,
    warn_random: bool = True,
) -> ResolvedWeights:
    """The choice every backbone makes, once: a ``weights=`` file, else pretrained, else random.

    Args:
        space: the feature space's name, for the messages.
        weights: a local weights file (read with ``weights_only=True``); wins over
            ``pretrained``.
        pretrained: use the library's pretrained weights (``fetch_pretrained`` finds them and
            fails fast offline).
        fetch_pretrained: returns the pretrained ``ResolvedWeights``.
        warn_random: warn with ``RandomWeightsWarning`` for random weights (a backbone that
            checks more options first may warn itself later).

    Raises:
        WeightsFileError: the file is missing or holds no state dict.
        WeightsUnavailableError: pretrained weights are not cached and cannot be fetched.
    """
    if weights is not None:
        state = load_state_dict_file(weights)  # first: a missing file gets its clear error
        return ResolvedWeights(
            "file", file_sha256(weights), state, f"weights={str(weights)!r}", Path(weights)
        )
    if pretrained:
        return fetch_pretrained()
    if warn_random:
        warn_random_weights(space)
    return ResolvedWeights("random", None, None, "random initialisation")
