"""pyode: neural ordinary differential equations with an adjoint solver (Chen et al., 2018)."""

from pyode.solver import ODEBlock, ODESolverError, odeint, odeint_event

__all__ = ["ODEBlock", "ODESolverError", "__version__", "odeint", "odeint_event"]
__version__ = "0.1.0"
