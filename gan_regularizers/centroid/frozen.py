"""Run a caller's module as a frozen feature network without changing the caller's module.

``CentroidLoss(my_module)`` must not switch ``my_module`` to eval mode or turn off its
parameters' gradients in place (it may be a discriminator trunk that is still training). A
``FrozenView`` evaluates it in eval mode with detached parameters for the duration of one
call (``torch.func.functional_call``), then restores every submodule's mode: gradients reach
the images, never the module's parameters, and the module is left as it was.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from gan_regularizers.files.statistics_files import module_descriptor


class FrozenView(nn.Module):
    """``module`` as a frozen φ: eval mode and constant parameters during each call only."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self._wrapped = [module]  # a list: not a submodule, so its weights stay out of state

    @property
    def module(self) -> nn.Module:
        """The caller's module, unchanged."""
        return self._wrapped[0]

    @property
    def descriptor(self) -> dict[str, Any]:
        return module_descriptor(self.module)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        module = self.module
        modes = [(layer, layer.training) for layer in module.modules()]
        module.train(False)
        try:
            constants = {name: p.detach() for name, p in module.named_parameters()}
            return torch.func.functional_call(module, constants, (images,), strict=False)
        finally:
            for layer, mode in modes:
                layer.training = mode
