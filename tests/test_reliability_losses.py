"""Every built-in loss warns when it is given probabilities instead of logits (issue 23).

``bce`` and ``lsgan`` warned; ``hinge``, ``wasserstein`` and ``rpgan`` took sigmoid outputs as
logits without a word. They share one check (``gan_regularizers.checks.logits.ProbabilityCheck``).
"""

from __future__ import annotations

import warnings

import pytest
import torch

from gan_regularizers import get_loss
from gan_regularizers.errors import ProbabilitiesAsLogitsWarning

LOSSES = ["bce", "lsgan", "hinge", "wasserstein", "rpgan"]


def _steps(loss: object, logits: torch.Tensor, calls: int) -> list[warnings.WarningMessage]:
    """``calls`` discriminator + generator steps; the probability warnings they raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(calls):
            real, fake = logits[:4], logits[4:]
            loss.discriminator_loss(real, fake)  # type: ignore[attr-defined]
            loss.generator_loss(fake, real_logits=real)  # type: ignore[attr-defined]
    return [w for w in caught if issubclass(w.category, ProbabilitiesAsLogitsWarning)]


@pytest.mark.parametrize("name", LOSSES)
def test_sigmoid_outputs_given_as_logits_warn_once_naming_the_loss(name: str) -> None:
    probabilities = torch.sigmoid(torch.randn(8, generator=torch.Generator().manual_seed(0)))
    assert float(probabilities.min()) > 0 and float(probabilities.max()) < 1
    found = _steps(get_loss(name), probabilities, calls=4)
    assert len(found) == 1
    message = str(found[0].message)
    assert message.startswith(f"{name}: every discriminator output in the first 3 calls")
    assert "remove the final sigmoid" in message


@pytest.mark.parametrize("name", LOSSES)
def test_raw_logits_of_both_signs_do_not_warn(name: str) -> None:
    logits = torch.tensor([-1.5, 0.3, 2.0, -0.2, 0.7, -3.0, 0.1, 1.2])
    assert _steps(get_loss(name), logits, calls=4) == []
