"""Exported generators: a torch.export program that runs where gan-regularizers cannot be
imported, safetensors weights and a card that ``load_generator`` rebuilds through the registry."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from tiny_runs import train_tiny_mnist_run

import gan_regularizers
from gan_regularizers.cli import main
from gan_regularizers.errors import ConfigError, RunFolderError
from gan_regularizers.export import export_generator, load_generator, load_run

# Run in a fresh interpreter: importing gan_regularizers must fail there, the program must not.
PLAIN_TORCH = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] == "gan_regularizers":
            raise ImportError("gan_regularizers is blocked in this process")
sys.meta_path.insert(0, Block())
try:
    import gan_regularizers
    raise SystemExit("gan_regularizers was importable")
except ImportError:
    pass
import torch
inputs = torch.load(sys.argv[2], weights_only=True)
generator = torch.export.load(sys.argv[1]).module()
outputs = [generator(*args) for args in inputs]
torch.save(outputs, sys.argv[3])
print(sorted(m for m in sys.modules if m.startswith("gan_regularizers")))
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    train_tiny_mnist_run(root / "plain", ema_decay=0.9)
    train_tiny_mnist_run(root / "conditional", num_classes="auto",
                         architecture="resnet:g_width=8,d_width=8")  # fmt: skip
    return {"plain": root / "plain", "conditional": root / "conditional"}


def _inputs(num_classes: int) -> list[tuple[torch.Tensor, ...]]:
    out = []
    for batch in (3, 7):  # neither is the batch the program was traced with
        z = torch.randn(batch, 100, generator=torch.Generator().manual_seed(batch))
        out.append((z, torch.arange(batch) % num_classes) if num_classes else (z,))
    return out


@pytest.mark.parametrize("kind", ["plain", "conditional"])
def test_the_exported_program_runs_with_plain_torch(
    runs: dict[str, Path], kind: str, tmp_path: Path
) -> None:
    out = tmp_path / "export"
    assert main(["export", str(runs[kind]), str(out)]) == 0
    card = json.loads((out / "generator.json").read_text())
    loaded = load_run(runs[kind])
    inputs = _inputs(loaded.num_classes)
    torch.save(inputs, tmp_path / "inputs.pt")
    result = subprocess.run(
        [sys.executable, "-c", PLAIN_TORCH, str(out / "generator.pt2"), str(tmp_path / "inputs.pt"),
         str(tmp_path / "outputs.pt")],
        capture_output=True, text=True, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"  # nothing of the package was imported
    outputs = torch.load(tmp_path / "outputs.pt", weights_only=True)
    rebuilt = load_generator(out)
    with torch.no_grad():
        for args, exported in zip(inputs, outputs, strict=True):
            expected = loaded.generator(*args)
            assert exported.shape == expected.shape == (args[0].shape[0], 1, 32, 32)
            torch.testing.assert_close(exported, expected, rtol=1e-5, atol=1e-5)
            assert torch.equal(rebuilt(*args), expected)
    assert card["architecture"] == loaded.architecture and card["z_dim"] == 100
    assert card["num_classes"] == (10 if kind == "conditional" else 0)
    assert card["ema"] == (kind == "plain") and card["weights"] == loaded.weights
    assert card["step"] == 1 and len(card["config_sha256"]) == 64


def test_card_carries_the_runs_metrics_with_protocol(runs: dict[str, Path], tmp_path: Path) -> None:
    assert main(["eval", str(runs["plain"]), "--num-samples", "20", "--metrics",
                 "fd:mnist-classifier", "--quiet"]) == 0  # fmt: skip
    export_generator(runs["plain"], tmp_path / "out")
    card = json.loads((tmp_path / "out" / "generator.json").read_text())
    (entry,) = card["metrics"]
    assert entry["run"]["step"] == 1 and "protocol" in entry


def test_export_refuses_a_non_empty_folder_and_tampered_weights(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(RunFolderError, match="exists and is not empty"):
        export_generator(runs["plain"], tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    out = tmp_path / "out"
    export_generator(runs["plain"], out)
    weights = out / "generator.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ConfigError, match="does not match the sha256"):
        load_generator(out)


def test_a_module_exports_but_only_registered_architectures_reload(tmp_path: Path) -> None:
    assert gan_regularizers.load_run is load_run  # the public names
    assert gan_regularizers.load_generator is load_generator
    generator, _ = gan_regularizers.get_architecture("mlp", image_size=1, channels=2, z_dim=4)
    card_path = gan_regularizers.export_generator(generator, tmp_path / "mlp")
    card = json.loads(card_path.read_text())
    assert card["architecture"] == "<module: MLPGenerator>" and card["channels"] == 2
    program = torch.export.load(str(tmp_path / "mlp" / "generator.pt2")).module()
    z = torch.randn(5, 4)
    assert torch.equal(program(z), generator.eval()(z))
    with pytest.raises(ConfigError, match="not a registered architecture; build your generator"):
        load_generator(tmp_path / "mlp")
    with pytest.raises(ConfigError, match="no int z_dim"):
        export_generator(torch.nn.Linear(2, 2), tmp_path / "linear")
