"""The `noblock` ablation: odenet's stem and head with nothing between."""

from __future__ import annotations

import torch

from pyode import registry
from pyode.models import PAPER_PARAMS, build_model, count_parameters, ode_blocks
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


def test_registered_for_mnist_without_a_paper_count() -> None:
    entry = registry.model("noblock")
    assert entry.datasets == ("mnist",) and not entry.continuous_depth
    assert entry.paper_params is None and "noblock" not in PAPER_PARAMS
    assert "noblock" not in registry.model_names("iceberg")
    # no solver settings reach it: build_model passes them to continuous-depth models only
    net = build_model("mnist", "noblock", solver={"method": "rk4", "n_steps": 1})
    assert count_parameters(net) == count_parameters(noblock())
