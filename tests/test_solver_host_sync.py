"""Host synchronisations: one per tried step in the adaptive loop, counted on any device."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pyode import odeint
from pyode.solver import SolverStats
from pyode.solver.host_sync import HOST_SYNCS

# Per solve, outside the stepping loop: reading t (1) and choosing the first step (2).
PER_SOLVE = 3


class Decay(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.k = nn.Parameter(torch.tensor(1.5))

    def forward(self, t, y):
        return -self.k * y * torch.cos(3 * t)


@pytest.mark.parametrize("method", ["dopri5", "tsit5"])
def test_at_most_one_sync_per_step_forward_and_backward(method: str) -> None:
    y0 = torch.ones(4, 3, requires_grad=True)
    t = torch.linspace(0, 4, 6)
    stats = SolverStats()
    start = HOST_SYNCS.count
    out = odeint(Decay(), y0, t, method=method, rtol=1e-6, atol=1e-6, stats=stats)
    forward_syncs = HOST_SYNCS.count - start
    forward_steps = stats.n_accepted + stats.n_rejected
    assert forward_steps > 10
    assert forward_syncs <= forward_steps + PER_SOLVE
    start = HOST_SYNCS.count
    out.square().sum().backward()
    backward_syncs = HOST_SYNCS.count - start
    backward_steps = stats.n_accepted_backward + stats.n_rejected_backward
    # The backward's output intervals share one first-step choice (the step is carried over).
    assert backward_syncs <= backward_steps + PER_SOLVE - 1


def test_fixed_grid_syncs_once_per_output_interval() -> None:
    start = HOST_SYNCS.count
    odeint(Decay(), torch.ones(3), torch.linspace(0, 1, 5), method="rk4",
           options=dict(n_steps=10), adjoint=False)  # fmt: skip
    assert HOST_SYNCS.count - start == 1 + 4  # t, then one finiteness check per interval
