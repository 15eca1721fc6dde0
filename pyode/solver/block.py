"""ODEBlock: an nn.Module mapping y(t_0) to y(t_1) with pyode.odeint."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from pyode.solver import defaults
from pyode.solver.per_sample_adjoint import check_per_sample_methods
from pyode.solver.solve import adjoint_setup, check_times, failure_setup, odeint
from pyode.solver.stats import SolverStats


class ODEBlock(nn.Module):
    """Continuous-depth block: forward(y0) returns the state at the last time of `t`.

    `t` is a buffer (moves with .to(device), saved in state_dict). `stats` describes the most
    recent call: forward fields after forward, backward fields once loss.backward() has run.
    With on_failure="return", a failed solve gives NaN and `stats.status` says why. With
    per_sample=True every row of the batch takes its own steps (odeint's per_sample).
    """

    def __init__(
        self,
        func: Callable[[Tensor, Tensor], Tensor],
        t: Sequence[float] | Tensor = (0.0, 1.0),
        **solver_kwargs: Any,
    ) -> None:
        super().__init__()
        self.func = func
        t_tensor = torch.as_tensor(t, dtype=torch.get_default_dtype()).detach().clone()
        check_times(t_tensor)
        self.register_buffer("t", t_tensor)
        kw = dict(solver_kwargs)
        names = ("method", "rtol", "atol", "adjoint", "options", "on_failure", "per_sample")
        named = {k: kw.pop(k) for k in names if k in kw}
        forward, backward, _ = adjoint_setup(
            named.get("method", defaults.METHOD),
            named.get("rtol", defaults.RTOL),
            named.get("atol", defaults.ATOL),
            named.get("options"),
            kw,
        )
        failure_setup(forward, named.get("on_failure", "raise"))
        if named.get("per_sample"):
            check_per_sample_methods(forward, backward if named.get("adjoint", True) else None)
        if "stats" in kw:
            raise ValueError("ODEBlock manages its own stats; do not pass 'stats'")
        self.solver_kwargs = {**named, **kw}
        self.stats = SolverStats()

    def forward(self, y0: Tensor) -> Tensor:
        self.stats = SolverStats()
        t = self.t if self.t.dtype == y0.dtype else self.t.to(y0.dtype)
        return odeint(self.func, y0, t, stats=self.stats, **self.solver_kwargs)[-1]

    @property
    def nfe_forward(self) -> int:
        return self.stats.nfe_forward

    @property
    def nfe_backward(self) -> int:
        return self.stats.nfe_backward

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.solver_kwargs.items())
