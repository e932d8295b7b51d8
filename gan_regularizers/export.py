"""Use a trained generator without this package's training code.

``export_generator`` writes three files into a folder:

* ``generator.pt2``: a ``torch.export`` program of the generator in eval mode, with a dynamic
  batch size; it runs with plain torch and no copy of gan-regularizers::

      import torch
      G = torch.export.load("out/generator.pt2").module()
      images = G(torch.randn(16, z_dim))            # conditional: G(z, labels)

* ``generator.safetensors``: the generator's ``state_dict`` (no pickle);
* ``generator.json``: the card (architecture spec, image size, channels, ``z_dim``,
  ``num_classes``, which weights (EMA or not), the step, the sha256 of the run's config, the
  run's metrics at that step with their protocol, the torch version, each file's sha256).

``load_generator`` rebuilds the generator from the card through the architecture registry and
loads the safetensors weights: loading never unpickles. ``load_run`` is the run loader
(config, step, generator, discriminator, regularizers' spaces).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gan_regularizers._version import __version__
from gan_regularizers.errors import ConfigError, RunFolderError
from gan_regularizers.training.run_loading import LoadedRun, load_run

__all__ = ["export_generator", "load_generator", "load_run"]

PROGRAM_NAME = "generator.pt2"
WEIGHTS_NAME = "generator.safetensors"
CARD_NAME = "generator.json"
CARD_FORMAT = "gan-regularizers/generator"
CARD_VERSION = 1
EXAMPLE_BATCH = 4


def export_generator(source: str | Path | nn.Module, path: str | Path) -> Path:
    """Export a run's generator (the EMA one when the run has it) or a module to a folder.

    Args:
        source: a run folder (or its ``checkpoint.pt``), or a generator module with an int
            ``z_dim`` (and ``num_classes`` when it takes labels).
        path: the output folder; it must be new or empty (nothing of yours is overwritten).

    Returns:
        The path of the card, ``path/generator.json``.

    Raises:
        RunFolderError: ``path`` exists and is not an empty folder.
        ConfigError: the module has no int ``z_dim``.
    """
    out = _new_folder(Path(path))
    card, generator = _card_and_generator(source)
    generator = generator.cpu().eval()
    example, options = _example_inputs(card)
    program = torch.export.export(generator, example, **options)
    _write(out / PROGRAM_NAME, lambda file: torch.export.save(program, file))
    _write_weights(generator, out / WEIGHTS_NAME)
    card["files"] = {name: _sha256(out / name) for name in (PROGRAM_NAME, WEIGHTS_NAME)}
    text = json.dumps(card, indent=2, sort_keys=True) + "\n"
    return _write(out / CARD_NAME, lambda file: file.write(text.encode("utf-8")))


def load_generator(path: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """The generator of an exported folder, rebuilt through the registry, in eval mode.

    Args:
        path: the folder ``export_generator`` wrote, or its ``generator.json``.
        device: where the generator goes.

    Raises:
        ConfigError: the card names no registered architecture (a module of your own: build it
            and load ``generator.safetensors`` with ``safetensors.torch.load_file``), or a file's
            checksum differs from the card's.
    """
    from safetensors.torch import load_file

    from gan_regularizers.training.networks import build_architecture

    folder = Path(path).parent if Path(path).suffix == ".json" else Path(path)
    card = _read_card(folder)
    if not card.get("registered"):
        raise ConfigError(
            f"{folder / CARD_NAME} records {card.get('architecture')!r}, not a registered "
            "architecture; build your generator and load its weights with "
            f"safetensors.torch.load_file({str(folder / WEIGHTS_NAME)!r}), or run the program "
            f"with torch.export.load({str(folder / PROGRAM_NAME)!r}).module()."
        )
    _check_sha256(folder, card, WEIGHTS_NAME)
    generator, _ = build_architecture(
        card["architecture"], image_size=card["image_size"], channels=card["channels"],
        z_dim=card["z_dim"], num_classes=card["num_classes"],
    )  # fmt: skip
    generator.load_state_dict(load_file(str(folder / WEIGHTS_NAME)))
    return generator.to(device).eval()


def _card_and_generator(source: str | Path | nn.Module) -> tuple[dict[str, Any], nn.Module]:
    if isinstance(source, nn.Module):
        return _module_card(source), source
    loaded = load_run(source)
    return _run_card(loaded), loaded.generator


def _module_card(module: nn.Module) -> dict[str, Any]:
    z_dim = getattr(module, "z_dim", None)
    if isinstance(z_dim, bool) or not isinstance(z_dim, int):
        raise ConfigError(
            f"export_generator: the module ({type(module).__name__}) has no int z_dim attribute "
            f"(got {z_dim!r}); set module.z_dim to its latent size."
        )
    with torch.no_grad():
        num_classes = int(getattr(module, "num_classes", 0) or 0)
        inputs = _example_inputs({"z_dim": z_dim, "num_classes": num_classes})[0]
        was_training = module.training
        images = module.eval()(*inputs)
        module.train(was_training)
    return {
        **_base_card(),
        "architecture": f"<module: {type(module).__name__}>",
        "registered": False,
        "image_size": int(images.shape[-1]),
        "channels": int(images.shape[1]),
        "z_dim": z_dim,
        "num_classes": num_classes,
        "weights": "module",
        "ema": False,
    }


def _run_card(loaded: LoadedRun) -> dict[str, Any]:
    from gan_regularizers.training.networks import is_user_modules

    config = loaded.config.to_dict()
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode("utf-8")).hexdigest()
    channels = int(loaded.generator(*_example_inputs(_sizes(loaded))[0]).shape[1])
    return {
        **_base_card(),
        "architecture": loaded.architecture,
        "registered": not is_user_modules(loaded.architecture),
        "image_size": loaded.image_size,
        "channels": channels,
        "z_dim": loaded.z_dim,
        "num_classes": loaded.num_classes,
        "weights": loaded.weights,
        "ema": loaded.weights == "generator_ema",
        "step": loaded.step,
        "run": loaded.name,
        "config_sha256": digest,
        "metrics": _metrics_at(loaded),
    }


def _sizes(loaded: LoadedRun) -> dict[str, int]:
    return {"z_dim": loaded.z_dim, "num_classes": loaded.num_classes}


def _base_card() -> dict[str, Any]:
    return {
        "format": CARD_FORMAT,
        "version": CARD_VERSION,
        "gan_regularizers": __version__,
        "torch": torch.__version__,
        "call": "torch.export.load('generator.pt2').module()(z[, labels]): z float32 B×z_dim, "
        "labels int64 (B,) in [0, num_classes) when num_classes > 0; images in [-1, 1]",
    }


def _metrics_at(loaded: LoadedRun) -> list[dict[str, Any]]:
    """The run's ``metrics.json`` entries for the exported step and weights (with protocol)."""
    from gan_regularizers.metrics.store import read_entries

    entries = read_entries(loaded.run_dir / "metrics.json")
    return [
        entry
        for entry in entries
        if (entry.get("run") or {}).get("step") == loaded.step
        and (entry.get("run") or {}).get("weights", loaded.weights) == loaded.weights
    ]


def _example_inputs(card: dict[str, Any]) -> tuple[tuple[torch.Tensor, ...], dict[str, Any]]:
    """``(args, {"dynamic_shapes": …})`` for ``torch.export.export``: batch dimension dynamic."""
    batch = torch.export.Dim("batch", min=1, max=1 << 16)
    z = torch.randn(EXAMPLE_BATCH, card["z_dim"])
    if card["num_classes"] > 0:
        labels = torch.arange(EXAMPLE_BATCH) % card["num_classes"]
        return (z, labels), {"dynamic_shapes": ({0: batch}, {0: batch})}
    return (z,), {"dynamic_shapes": ({0: batch},)}


def _new_folder(out: Path) -> Path:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RunFolderError(
            f"the export folder {out} exists and is not empty; export writes {PROGRAM_NAME}, "
            f"{WEIGHTS_NAME} and {CARD_NAME} and never overwrites files. Choose a new or empty "
            "folder."
        )
    out.mkdir(parents=True, exist_ok=True)
    return out


def _write(path: Path, write: Any) -> Path:
    from gan_regularizers.files.atomic import atomic_write

    return atomic_write(path, write)


def _write_weights(generator: nn.Module, path: Path) -> None:
    from safetensors.torch import save

    state = {k: v.detach().contiguous().cpu() for k, v in generator.state_dict().items()}
    data = save(state, metadata={"format": CARD_FORMAT})
    _write(path, lambda file: file.write(data))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_card(folder: Path) -> dict[str, Any]:
    path = folder / CARD_NAME
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigError(
            f"cannot read the generator card {path}: {error}. Pass a folder written by "
            "gan-regularizers export (or export_generator)."
        ) from error
    if not isinstance(card, dict) or card.get("format") != CARD_FORMAT:
        raise ConfigError(f"{path} is not a generator card of gan-regularizers.")
    if card.get("version") != CARD_VERSION:
        raise ConfigError(
            f"{path} has card version {card.get('version')}; this gan-regularizers reads "
            f"version {CARD_VERSION}."
        )
    return card


def _check_sha256(folder: Path, card: dict[str, Any], name: str) -> None:
    expected = card.get("files", {}).get(name)
    if expected is not None and _sha256(folder / name) != expected:
        raise ConfigError(
            f"{folder / name} does not match the sha256 in {CARD_NAME} ({expected[:12]}…): the "
            "file changed after export. Export the run again."
        )
