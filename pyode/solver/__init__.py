"""pyode's ODE solver core: Runge-Kutta methods, step-size control and the adjoint method."""

from pyode.solver.block import ODEBlock
from pyode.solver.config import METHODS
from pyode.solver.errors import ODESolverError
from pyode.solver.events import odeint_event
from pyode.solver.methods import METHOD_TABLE, Method
from pyode.solver.odeint import odeint
from pyode.solver.stats import SolverStats
from pyode.solver.tableaus import TABLEAUS, ButcherTableau

__all__ = [
    "METHODS",
    "METHOD_TABLE",
    "TABLEAUS",
    "ButcherTableau",
    "Method",
    "ODEBlock",
    "ODESolverError",
    "SolverStats",
    "odeint",
    "odeint_event",
]
