"""ODEBlock: shapes, statistics after forward and backward, nn.Sequential, state_dict."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pyode import ODEBlock
from pyode.solver import SolverStats


class Dyn(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 4)

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.lin(y)) * (1 + t)


@pytest.mark.parametrize("adjoint", [True, False])
@pytest.mark.parametrize("method", ["dopri5", "rk4"])
def test_block_shapes_and_stats(adjoint: bool, method: str) -> None:
    torch.manual_seed(0)
    block = ODEBlock(Dyn(), method=method, adjoint=adjoint, options=None)
    y = block(torch.randn(5, 4))
    assert y.shape == (5, 4)
    assert isinstance(block.stats, SolverStats)
    nfe = block.stats.nfe_forward
    assert isinstance(nfe, int) and nfe > 0
    assert block.stats.nfe_backward == 0
    y.sum().backward()
    assert block.nfe_backward == block.stats.nfe_backward > 0
    if not adjoint:
        assert block.stats.nfe_backward == nfe
    if method == "dopri5":
        assert block.stats.n_accepted > 0
    assert all(p.grad is not None for p in block.parameters())


def test_stats_are_per_call() -> None:
    block = ODEBlock(Dyn(), method="rk4", options=dict(n_steps=3))
    block(torch.randn(2, 4))
    assert block.nfe_forward == 12
    block(torch.randn(2, 4))
    assert block.nfe_forward == 12


def test_sequential_state_dict_and_dtype() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), ODEBlock(Dyn(), t=(0.0, 0.5)), nn.Linear(4, 2))
    out = model(torch.randn(7, 3))
    assert out.shape == (7, 2)
    state = model.state_dict()
    assert torch.equal(state["1.t"], torch.tensor([0.0, 0.5]))
    clone = nn.Sequential(nn.Linear(3, 4), ODEBlock(Dyn(), t=(0.0, 1.0)), nn.Linear(4, 2))
    clone.load_state_dict(state)
    x = torch.randn(2, 3)
    assert torch.allclose(clone(x), model(x))
    model.double()
    assert model[1].t.dtype == torch.float64
    assert model(x.double()).dtype == torch.float64


def test_block_rejects_bad_configuration() -> None:
    with pytest.raises(ValueError, match="unknown method"):
        ODEBlock(Dyn(), method="heun")
    with pytest.raises(ValueError, match="strictly"):
        ODEBlock(Dyn(), t=(1.0, 1.0))
