"""Per-call solver statistics (plain python ints, so reading them never synchronises a GPU)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from torch import Tensor

from pyode.solver.callbacks import NO_CALLBACKS, StepCallbacks


@dataclass
class SolverStats:
    """Counts for one odeint call; the backward fields are filled when its backward pass runs."""

    nfe_forward: int = 0
    nfe_backward: int = 0
    n_accepted: int = 0
    n_rejected: int = 0
    n_accepted_backward: int = 0
    n_rejected_backward: int = 0

    def as_dict(self) -> dict[str, int]:
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

    def rejected(self, t: float, y: Tensor, dt: float) -> None:
        if self.backward:
            self.stats.n_rejected_backward += 1
        else:
            self.stats.n_rejected += 1
        self.callbacks.reject(t, y, dt)
