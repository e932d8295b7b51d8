"""The architecture contract, checked on every registered architecture (built-ins and whatever
else is installed), unconditional and conditional: shapes, range, gradients to both players,
``state_dict`` round trip, a DDP wrap (gloo, one process) and bf16 autocast."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

import gan_regularizers
from gan_regularizers import get_architecture, hookimpl, list_architectures
from gan_regularizers.errors import ConfigError, PluginContractError, UnknownNameError

# small widths keep the suite fast; an architecture not listed is built with its defaults
SMALL = {
    "dcgan": {"g_width": 4, "d_width": 4},
    "resnet": {"g_width": 8, "d_width": 8},
    "mlp": {"width": 16},
}
CHANNELS, Z_DIM, CLASSES, BATCH = 3, 8, 3, 4
CASES = [(name, k) for name in list_architectures() for k in (0, CLASSES)]


def build(name: str, num_classes: int, seed: int = 0) -> tuple[nn.Module, nn.Module, int]:
    """``(G, D, image_size)`` at the first size of 32, 64, 1 the architecture accepts."""
    torch.manual_seed(seed)
    for size in (32, 64, 1):
        try:
            g, d = get_architecture(name, image_size=size, channels=CHANNELS, z_dim=Z_DIM,
                                    num_classes=num_classes, **SMALL.get(name, {}))  # fmt: skip
        except ValueError:
            continue
        return g, d, size
    raise AssertionError(f"{name} accepts none of the image sizes 32, 64, 1")


def inputs(num_classes: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    generator = torch.Generator().manual_seed(1)
    z = torch.randn(BATCH, Z_DIM, generator=generator)
    labels = torch.tensor([0, 1, 2, 1]) if num_classes else None
    return z, labels


def call(network: nn.Module, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    return network(x) if labels is None else network(x, labels)


def test_the_built_ins_are_registered() -> None:
    assert {"dcgan", "resnet", "mlp"} <= set(list_architectures())
    assert gan_regularizers.list_architectures is list_architectures


@pytest.mark.parametrize(("name", "num_classes"), CASES)
def test_shapes_range_and_z_dim(name: str, num_classes: int) -> None:
    g, d, size = build(name, num_classes)
    assert g.z_dim == Z_DIM
    z, labels = inputs(num_classes)
    images = call(g, z, labels)
    assert images.shape == (BATCH, CHANNELS, size, size)
    assert images.min() >= -1 and images.max() <= 1
    logits = call(d, images, labels)
    assert logits.shape in ((BATCH,), (BATCH, 1))
    features = getattr(d, "features", None)
    if features is not None:  # optional member: the penultimate features, B×d
        assert call(features, images, labels).dim() == 2


@pytest.mark.parametrize(("name", "num_classes"), [c for c in CASES if c[1]])
def test_a_conditional_generator_depends_on_the_label(name: str, num_classes: int) -> None:
    g, _, _ = build(name, num_classes)
    with torch.no_grad():  # conditional BN starts at γ = 1, β = 0 for every class: perturb it
        for parameter in g.parameters():
            parameter.add_(0.1 * torch.randn_like(parameter))
    g.eval()
    z, _ = inputs(num_classes)
    same = z[:1].expand(CLASSES, -1)
    images = g(same, torch.arange(CLASSES))
    assert not torch.allclose(images[0], images[1])
    with pytest.raises(ValueError, match="labels"):
        g(z)


@pytest.mark.parametrize(("name", "num_classes"), CASES)
def test_gradients_reach_both_players(name: str, num_classes: int) -> None:
    g, d, _ = build(name, num_classes)
    z, labels = inputs(num_classes)
    call(d, call(g, z, labels), labels).square().sum().backward()
    for player, network in (("G", g), ("D", d)):
        for parameter_name, parameter in network.named_parameters():
            assert parameter.grad is not None, f"{player}.{parameter_name} got no gradient"
        total = sum(p.grad.abs().sum() for p in network.parameters())
        assert total > 0, f"{player} got only zero gradients"


@pytest.mark.parametrize(("name", "num_classes"), CASES)
def test_state_dict_round_trip(name: str, num_classes: int) -> None:
    g1, d1, _ = build(name, num_classes, seed=0)
    g2, d2, _ = build(name, num_classes, seed=1)
    z, labels = inputs(num_classes)
    for first, second in ((g1, g2), (d1, d2)):
        second.load_state_dict(first.state_dict())
        first.eval(), second.eval()
    images = call(g1, z, labels)
    assert torch.equal(images, call(g2, z, labels))
    assert torch.equal(call(d1, images, labels), call(d2, images, labels))


@pytest.mark.parametrize(("name", "num_classes"), CASES)
def test_bf16_autocast(name: str, num_classes: int) -> None:
    g, d, _ = build(name, num_classes)
    z, labels = inputs(num_classes)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = call(d, call(g, z, labels), labels)
    assert torch.isfinite(logits.float()).all()
    logits.float().sum().backward()


@pytest.fixture(scope="module")
def process_group(tmp_path_factory: pytest.TempPathFactory):
    import torch.distributed as dist

    store = tmp_path_factory.mktemp("dist") / "store"
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=0, world_size=1)
    yield
    dist.destroy_process_group()


@pytest.mark.parametrize(("name", "num_classes"), CASES)
def test_ddp_wrap_trains_one_step(name: str, num_classes: int, process_group) -> None:
    from torch.nn.parallel import DistributedDataParallel

    g, d, _ = build(name, num_classes)
    wrapped_g, wrapped_d = DistributedDataParallel(g), DistributedDataParallel(d)
    z, labels = inputs(num_classes)
    before = [p.detach().clone() for p in g.parameters()]
    optimizer = torch.optim.SGD(wrapped_g.parameters(), lr=0.1)
    call(wrapped_d, call(wrapped_g, z, labels), labels).mean().backward()
    optimizer.step()
    assert any(not torch.equal(a, b) for a, b in zip(before, g.parameters(), strict=True))


def test_resnet_has_spectral_norm_on_every_d_weight_unless_turned_off() -> None:
    from torch.nn.utils import parametrize

    _, d = get_architecture("resnet", image_size=32, channels=3, z_dim=8, num_classes=3,
                            d_width=8)  # fmt: skip
    weighted = [m for m in d.modules() if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding))]
    assert len(weighted) == 2 * 4 + 2 + 1 + 1  # 4 blocks × 2 convs, 2 learnable shortcuts, ψ, e
    assert all(parametrize.is_parametrized(m, "weight") for m in weighted)
    _, plain = get_architecture("resnet", image_size=32, channels=3, z_dim=8, d_width=8,
                                spectral_norm=False)  # fmt: skip
    assert not any(parametrize.is_parametrized(m) for m in plain.modules())


def test_resnet_layout_matches_sngan_at_32_and_64() -> None:
    for size, up_blocks, down_blocks in ((32, 3, 2), (64, 4, 3)):
        g, d = get_architecture("resnet", image_size=size, channels=3, z_dim=128)
        assert len(g.blocks) == up_blocks and g.linear.out_features == 4 * 4 * 256
        assert sum(block.down for block in d.blocks) == down_blocks
        assert len(d.blocks) == down_blocks + 2  # two plain blocks after the down-blocks
        z = torch.randn(2, 128)
        assert g(z).shape == (2, 3, size, size) and d.features(g(z)).shape == (2, 128)


def test_unsupported_size_and_unknown_options_are_clear_errors() -> None:
    with pytest.raises(ValueError, match=r"resnet architecture supports image sizes \(32, 64\)"):
        get_architecture("resnet", image_size=48, channels=3, z_dim=8)
    with pytest.raises(TypeError, match=r"option\(s\) width\. Did you mean 'g_width'\? It acc"):
        get_architecture("dcgan", image_size=32, channels=3, z_dim=8, width=4)
    with pytest.raises(UnknownNameError, match=r"Unknown architecture 'resnt'.*'resnet'"):
        get_architecture("resnt", image_size=32, channels=3, z_dim=8)


def test_training_config_errors_name_the_architecture_key() -> None:
    from gan_regularizers.training.networks import build_architecture

    with pytest.raises(ConfigError, match=r"'architecture' \('dcgan'\): DCGAN supports"):
        build_architecture("dcgan", image_size=48, channels=1, z_dim=8, num_classes=0)


class _BrokenArchitectures:
    @hookimpl
    def register_architectures(self, register):
        register("single", lambda **_: nn.Linear(2, 2))
        register("no-z-dim", lambda **_: (nn.Linear(2, 2), nn.Linear(2, 1)))
        register("wrong-z-dim", lambda **_: (_WithZDim(3), nn.Linear(2, 1)))


class _WithZDim(nn.Linear):
    def __init__(self, z_dim: int) -> None:
        super().__init__(z_dim, 2)
        self.z_dim = z_dim


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("single", r"built a Linear that is not a \(generator, discriminator\) pair"),
        ("no-z-dim", r"generator without an int z_dim attribute \(got None\)"),
        ("wrong-z-dim", r"z_dim is 3, not the requested 8"),
    ],
)
def test_a_broken_architecture_plugin_is_reported_when_built(
    register_plugin, name: str, message: str
) -> None:
    register_plugin(_BrokenArchitectures(), "broken-architectures")
    with pytest.raises(PluginContractError, match=message):
        get_architecture(name, image_size=32, channels=3, z_dim=8)


def test_parameter_counts_in_the_docs_are_computed(tmp_path: Path) -> None:
    """docs/architectures.md states each built-in's parameter counts: they must be these."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "architectures.md").read_text()
    for name, size, channels, z_dim in (("dcgan", 32, 3, 100), ("resnet", 32, 3, 128),
                                        ("dcgan", 64, 3, 100), ("resnet", 64, 3, 128),
                                        ("mlp", 1, 2, 16)):  # fmt: skip
        g, d = get_architecture(name, image_size=size, channels=channels, z_dim=z_dim)
        for network in (g, d):
            count = sum(p.numel() for p in network.parameters())
            assert f"{count:,}" in text, f"{name} {size}: {count:,} not in docs/architectures.md"
