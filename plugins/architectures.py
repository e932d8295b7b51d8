"""The built-in architectures: ``dcgan``, ``resnet`` (SNGAN/BigGAN-style) and ``mlp``.

Each factory takes ``image_size``, ``channels``, ``z_dim`` and ``num_classes`` (0: unconditional)
plus its own options, and returns ``(generator, discriminator)``; the networks live in
``gan_regularizers.models``. Their layers, sizes and parameter counts: docs/architectures.md.
"""

from __future__ import annotations

from torch import nn

from gan_regularizers.plugin_system.hookspecs import Register, hookimpl


def dcgan(
    *, image_size: int, channels: int, z_dim: int, num_classes: int = 0, g_width: int = 64,
    d_width: int = 64,
) -> tuple[nn.Module, nn.Module]:  # fmt: skip
    """DCGAN (Radford et al., 2016) at 32 or 64; ``g_width``/``d_width`` are the base widths."""
    from gan_regularizers.models.dcgan import DCGANDiscriminator, DCGANGenerator

    generator = DCGANGenerator(image_size, channels, z_dim, g_width, num_classes)
    return generator, DCGANDiscriminator(image_size, channels, d_width, num_classes)


def resnet(
    *, image_size: int, channels: int, z_dim: int, num_classes: int = 0, g_width: int = 256,
    d_width: int = 128, spectral_norm: bool = True,
) -> tuple[nn.Module, nn.Module]:  # fmt: skip
    """The SNGAN ResNet at 32 or 64: G with (conditional) BatchNorm, D with spectral norm and a
    projection head for labels."""
    from gan_regularizers.models.resnet import ResNetDiscriminator, ResNetGenerator

    generator = ResNetGenerator(image_size, channels, z_dim, g_width, num_classes)
    discriminator = ResNetDiscriminator(image_size, channels, d_width, num_classes, spectral_norm)
    return generator, discriminator


def mlp(
    *, image_size: int, channels: int, z_dim: int, num_classes: int = 0, width: int = 128
) -> tuple[nn.Module, nn.Module]:
    """Two hidden layers of ``width`` on flattened ``C×S×S`` inputs (2-D points: ``2×1×1``)."""
    from gan_regularizers.models.mlp import MLPDiscriminator, MLPGenerator

    generator = MLPGenerator(image_size, channels, z_dim, width, num_classes)
    return generator, MLPDiscriminator(image_size, channels, width, num_classes)


@hookimpl
def register_architectures(register: Register) -> None:
    """``dcgan``, ``resnet`` and ``mlp``."""
    register("dcgan", dcgan)
    register("resnet", resnet)
    register("mlp", mlp)
