"""Model builders: output shapes, Chen et al. (2018) parameter counts, ODE block settings."""

from __future__ import annotations

import importlib

import pytest
import torch
from torch import nn

import pyode
from pyode import registry
from pyode.models import PAPER_PARAMS, build_model, count_parameters, ode_blocks

MODELS = {d: registry.model_names(d) for d in registry.dataset_names()}

FAST = {"method": "rk4", "n_steps": 1, "adjoint": True, "rtol": 1e-3, "atol": 1e-3}


def builders(dataset: str):
    """pyode.models.DATASET: its builders, INPUT_SHAPE and OUTPUTS."""
    return importlib.import_module(f"pyode.models.{dataset}")


@pytest.mark.parametrize(("dataset", "model"),
                         [(d, m) for d, models in MODELS.items() for m in models])
def test_forward_shape(dataset: str, model: str) -> None:
    torch.manual_seed(0)
    net = build_model(dataset, model, solver=FAST)
    out = net(torch.randn(3, *builders(dataset).INPUT_SHAPE))
    assert out.shape == (3, builders(dataset).OUTPUTS)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("model", [m for m in MODELS["mnist"] if m in PAPER_PARAMS])
def test_mnist_parameter_counts_match_the_paper(model: str) -> None:
    params = count_parameters(build_model("mnist", model, solver=FAST))
    assert abs(params - PAPER_PARAMS[model]) <= 0.10 * PAPER_PARAMS[model], params


def test_ode_models_have_one_block_with_the_requested_solver() -> None:
    solver = {"method": "dopri5", "rtol": 0.01, "atol": 0.02, "adjoint": True, "n_steps": 7}
    continuous = [(d, m) for d, models in MODELS.items() for m in models
                  if registry.model(m).continuous_depth]
    for dataset, model in continuous:
        net = build_model(dataset, model, solver=solver)
        (block,) = ode_blocks(net)
        assert isinstance(block, pyode.ODEBlock)
        kwargs = block.solver_kwargs
        assert (kwargs["method"], kwargs["rtol"], kwargs["atol"]) == ("dopri5", 0.01, 0.02)
        # the ODE-Net trains with the adjoint; the RK-Net back-propagates (its own test)
        if model == "odenet":
            assert kwargs["adjoint"] is True
        assert "n_steps" not in kwargs["options"]  # adaptive methods choose their own steps
        # no BatchNorm inside the dynamics: its running statistics would be shared solver state
        assert not any(isinstance(m, nn.BatchNorm2d) for m in block.func.modules())
        assert any(isinstance(m, nn.GroupNorm) for m in block.func.modules())
    for dataset, models in MODELS.items():
        for model in models:
            if not registry.model(model).continuous_depth:
                assert ode_blocks(build_model(dataset, model, solver=solver)) == []


def test_rknet_backpropagates_through_the_solver() -> None:
    net = build_model("mnist", "rknet", solver={**FAST, "n_steps": 3})
    (block,) = ode_blocks(net)
    assert block.solver_kwargs["adjoint"] is False
    assert block.solver_kwargs["options"] == {"n_steps": 3}
    net(torch.randn(2, 1, 28, 28)).sum().backward()
    assert block.stats.nfe_forward == 12
    assert all(p.grad is not None for p in net.parameters())


def test_unknown_names_are_rejected() -> None:
    with pytest.raises(ValueError, match="choose one of mnist, iceberg"):
        build_model("cifar", "mlp")
    with pytest.raises(ValueError, match="choose one of mlp, resnet, odenet"):
        build_model("iceberg", "rknet")
