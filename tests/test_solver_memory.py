"""Memory of a training step, flat in the solver's evaluations with the adjoint and linear in them
without: the bytes autograd keeps for the backward pass (the runs' `saved_mb`) and a probe
process's peak resident memory (the memory experiment)."""

from __future__ import annotations

from functools import partial

import pytest
import torch
from torch import nn

from pyode.experiments.memory_probe import measure_step_memory
from pyode.models.layers import ConvODEFunc
from pyode.solver.block import ODEBlock
from pyode.train.metrics import SavedTensors, saved_by

# A state of 16 x 8 x 32 x 32 floats (512 KiB): large enough that the allocator's own noise (about
# a megabyte of resident memory) stays small beside the adjoint's peak of roughly 17 MB.
measure = partial(measure_step_memory, batch=16, channels=8, size=32)


@pytest.mark.slow  # six probe processes
def test_adjoint_memory_constant_direct_memory_linear() -> None:
    # Each call runs `python -m pyode.experiments.memory_probe` in a fresh process (peak RSS); the
    # adjoint's two points take the lower of two runs, as noise only ever adds resident pages.
    adj_16 = min(measure(16, adjoint=True) for _ in range(2))
    adj_128 = min(measure(128, adjoint=True) for _ in range(2))
    assert adj_16 > 0
    assert adj_128 / adj_16 <= 1.1, (adj_16, adj_128)
    direct_8 = measure(8, adjoint=False)
    direct_32 = measure(32, adjoint=False)
    # Four times the steps: close to four times the stored activations.
    assert 2.5 <= direct_32 / direct_8 <= 4.5, (direct_8, direct_32)
    assert direct_8 > adj_128


def saved_bytes(block: ODEBlock, y0: torch.Tensor) -> tuple[int, int]:
    """Bytes the block's forward keeps for the backward pass, and its evaluations."""
    with saved_by([block], ignore=block.parameters()) as saved:
        out = block(y0)
        nbytes = saved.nbytes()
    out.sum().backward()  # the measure leaves the graph usable
    return nbytes, block.stats.nfe_forward


@pytest.fixture
def conv_state() -> tuple[ConvODEFunc, torch.Tensor]:
    torch.manual_seed(0)
    return ConvODEFunc(4), torch.randn(8, 4, 8, 8)


def test_saved_bytes_flat_with_the_adjoint_linear_in_steps_without(conv_state) -> None:
    func, y0 = conv_state
    adjoint = {n: saved_bytes(ODEBlock(func, method="rk4", adjoint=True, options={"n_steps": n}),
                              y0)[0] for n in (1, 4, 16)}
    # the adjoint keeps the solve's outputs at t0 and t1, whatever the steps
    assert set(adjoint.values()) == {2 * y0.nbytes}
    direct = {n: saved_bytes(ODEBlock(func, method="rk4", adjoint=False, options={"n_steps": n}),
                             y0)[0] for n in (1, 4, 16)}
    assert direct[4] == pytest.approx(4 * direct[1], rel=0.05)
    assert direct[16] == pytest.approx(16 * direct[1], rel=0.05)
    assert direct[1] > adjoint[1]


def test_saved_bytes_follow_the_evaluations_dopri5_chose(conv_state) -> None:
    func, y0 = conv_state
    points = {}
    for adjoint in (True, False):
        for tol in (1e-2, 1e-5):
            block = ODEBlock(func, method="dopri5", rtol=tol, atol=tol, adjoint=adjoint)
            points[adjoint, tol] = saved_bytes(block, y0)
    (loose, loose_nfe), (tight, tight_nfe) = points[False, 1e-2], points[False, 1e-5]
    assert tight_nfe > 1.5 * loose_nfe
    # back-propagation: the same bytes per evaluation at either tolerance
    assert tight / tight_nfe == pytest.approx(loose / loose_nfe, rel=0.15)
    assert points[True, 1e-2][0] == points[True, 1e-5][0] == 2 * y0.nbytes


class TwoUses(nn.Module):
    """Uses its layer three times and drops the first result, as a rejected solver step does."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(3, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        torch.tanh(self.lin(x))  # freed at once, with what it saved
        return self.lin(x) * self.lin(x)


def test_saved_bytes_count_live_storages_once_without_parameters() -> None:
    module, x = TwoUses(), torch.randn(7, 3, requires_grad=True)
    with saved_by([module], ignore=module.parameters()) as saved:
        out = module(x)
        # x (saved by both products, counted once) and the two factors of the product
        assert saved.nbytes() == x.nbytes + 2 * out.nbytes
        del out
        assert saved.nbytes() == 0  # the graph is gone, and what it kept
    with saved_by([module]) as saved:
        out = module(x)
        assert saved.nbytes() == x.nbytes + 2 * out.nbytes + module.lin.weight.nbytes
    # outside the measured module nothing is noted, and clear() forgets what was
    with saved_by([module.lin]) as saved:
        kept = torch.randn(4, requires_grad=True).exp()
        assert saved.nbytes() == 0
        out = module.lin(x)
        assert saved.nbytes() > 0
        saved.clear()
        assert saved.nbytes() == 0
    assert kept.grad_fn is not None and out.grad_fn is not None
    assert isinstance(saved, SavedTensors)


class Failing(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x.exp()
        raise RuntimeError("broken forward")


def test_a_forward_that_raises_still_ends_its_measurement() -> None:
    module, x = Failing(), torch.randn(3, requires_grad=True)
    with saved_by([module]) as saved:
        with pytest.raises(RuntimeError, match="broken forward"):
            module(x)
        saved.clear()
        x.exp()  # outside the module: not noted, so the failed forward closed its hooks
        assert saved.nbytes() == 0
    # and no module hook is left behind
    assert not module._forward_hooks and not module._forward_pre_hooks
