"""Every method of the solver, once: its name, whether it chooses its own steps, its order.

pyode.registry and the compat layer read the names from here; config.py dispatches on `kind`.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyode.solver.implicit_tableaus import IMPLICIT_TABLEAUS
from pyode.solver.tableaus import TABLEAUS


@dataclass(frozen=True)
class Method:
    name: str
    # "runge_kutta" (an explicit tableau), "implicit" (a diagonally implicit tableau, solved by
    # Newton iterations; for stiff problems), "adams" (multistep, fixed grid) or "scipy"
    kind: str
    adaptive: bool  # steps chosen from rtol/atol; otherwise a fixed grid (step_size, n_steps)
    order: int | None  # nominal order (None: scipy's, which depends on its `solver` option)
    gradients: bool = True  # False: nothing backpropagates through it (the adjoint works)

    @property
    def callbacks(self) -> frozenset[str]:
        """The step callbacks of func it calls (torchdiffeq's names): a fixed grid calls
        callback_step, an adaptive method also the accept/reject ones, scipy none."""
        if self.kind == "scipy":
            return frozenset()
        if not self.adaptive:
            return frozenset({"callback_step"})
        return frozenset({"callback_step", "callback_accept_step", "callback_reject_step"})


METHOD_TABLE: dict[str, Method] = {
    **{name: Method(name, "runge_kutta", t.adaptive, t.order) for name, t in TABLEAUS.items()},
    **{n: Method(n, "implicit", t.adaptive, t.order) for n, t in IMPLICIT_TABLEAUS.items()},
    "explicit_adams": Method("explicit_adams", "adams", False, 4),
    "implicit_adams": Method("implicit_adams", "adams", False, 4),
    "fixed_adams": Method("fixed_adams", "adams", False, 4),  # torchdiffeq's older name
    "scipy_solver": Method("scipy_solver", "scipy", True, None, gradients=False),
}
METHODS: tuple[str, ...] = tuple(METHOD_TABLE)
ADAPTIVE_METHODS: tuple[str, ...] = tuple(n for n, m in METHOD_TABLE.items() if m.adaptive)
FIXED_GRID_METHODS: tuple[str, ...] = tuple(n for n, m in METHOD_TABLE.items() if not m.adaptive)
