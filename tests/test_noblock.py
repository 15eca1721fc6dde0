"""The `noblock` ablation: odenet's stem and head with nothing between."""

from __future__ import annotations

import torch

from pyode.models import count_parameters, ode_blocks
from pyode.models.mnist import noblock, odenet


def test_output_shape() -> None:
    torch.manual_seed(0)
    out = noblock(width=16)(torch.randn(3, 1, 28, 28))
    assert out.shape == (3, 10)


def test_parameters_are_odenet_minus_its_ode_block() -> None:
    for width in (16, 64):
        ode = odenet({"method": "rk4", "n_steps": 1}, width=width)
        (block,) = ode_blocks(ode)
        assert count_parameters(block) > 0
        expected = count_parameters(ode) - count_parameters(block)
        assert count_parameters(noblock(width=width)) == expected


def test_same_modules_as_odenet_stem_and_head() -> None:
    ode = odenet({"method": "rk4", "n_steps": 1}, width=8)
    ablation = noblock(width=8)
    assert len(ablation) == 2
    assert str(ablation[0]) == str(ode[0]) and str(ablation[1]) == str(ode[2])
