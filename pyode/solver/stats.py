"""Per-call solver statistics (plain python numbers, so reading them never synchronises a GPU)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from torch import Tensor

from pyode.solver.callbacks import NO_CALLBACKS, StepCallbacks


@dataclass
class SolverStats:
    """Counts for one odeint call; the backward fields are filled when its backward pass runs.

    `status` and `t_reached` say how the most recent forward solve ended: "success" at the last
    output time, or the failure ("max_num_steps", "step_underflow", "non_finite") and the time
    the solution reached (the end of its last accepted step), whether that failure was raised
    or returned (odeint's `on_failure`).

    With per_sample=True, nfe_* count the batched calls of func, n_accepted / n_rejected (and
    their backward twins) the steps summed over rows, and the `*_per_sample` lists give each
    row's own counts (nfe: the evaluations its steps used, those of the row solved alone; the
    calls it sits out, finished or masked, are not counted), its status ("success",
    "max_num_steps", "step_underflow", "non_finite") and the time it reached; `status` and
    `t_reached` are then those of the first row that failed (if none did: "success" and the last
    output time, NaN where the rows' last times differ).

    The implicit methods' Newton work: `n_jacobians` Jacobians taken, `n_factorizations` LU
    factorisations of I - h*gamma*J made (a factorisation serves every stage and step with the
    same h; the `jacobian="krylov"` option factorises nothing); zero for explicit methods.
    """

    nfe_forward: int = 0
    nfe_backward: int = 0
    n_accepted: int = 0
    n_rejected: int = 0
    n_accepted_backward: int = 0
    n_rejected_backward: int = 0
    n_jacobians: int = 0
    n_factorizations: int = 0
    n_jacobians_backward: int = 0
    n_factorizations_backward: int = 0
    status: str = "success"
    t_reached: float = math.nan
    n_accepted_per_sample: list[int] = field(default_factory=list)
    n_rejected_per_sample: list[int] = field(default_factory=list)
    nfe_per_sample: list[int] = field(default_factory=list)
    status_per_sample: list[str] = field(default_factory=list)
    t_reached_per_sample: list[float] = field(default_factory=list)
    n_accepted_backward_per_sample: list[int] = field(default_factory=list)
    n_rejected_backward_per_sample: list[int] = field(default_factory=list)
    nfe_backward_per_sample: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class StepCounter:
    """Counts one solve's steps into its stats (the forward's fields or the backward's) and
    tells the step callbacks, so the integration loops need no `backward` flag."""

    def __init__(
        self, stats: SolverStats, *, backward: bool = False, callbacks: StepCallbacks = NO_CALLBACKS
    ) -> None:
        self.stats = stats
        self.backward = backward
        self.callbacks = callbacks

    def before(self, t: float, y: Tensor, dt: float) -> None:
        self.callbacks.step(t, y, dt)

    def accepted(self, t: float, y: Tensor, dt: float) -> None:
        if self.backward:
            self.stats.n_accepted_backward += 1
        else:
            self.stats.n_accepted += 1
        self.callbacks.accept(t, y, dt)

    def newton_work(self, jacobians: int = 0, factorizations: int = 0) -> None:
        """An implicit method's Newton iterations took Jacobians or factorised I - h*gamma*J."""
        if self.backward:
            self.stats.n_jacobians_backward += jacobians
            self.stats.n_factorizations_backward += factorizations
        else:
            self.stats.n_jacobians += jacobians
            self.stats.n_factorizations += factorizations

    def rejected(self, t: float, y: Tensor, dt: float) -> None:
        if self.backward:
            self.stats.n_rejected_backward += 1
        else:
            self.stats.n_rejected += 1
        self.callbacks.reject(t, y, dt)
