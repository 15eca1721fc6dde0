"""pyode's ODE solver core: Runge-Kutta, Adams and scipy methods, step-size control and the
adjoint method.

The public names are imported on first use, so that the solver's plain tables (`methods`,
`tableaus`, `defaults`) are readable without torch: the registry and the workflow's planning
read them.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

# public name -> the module of the solver that defines it
_EXPORTS: dict[str, str] = {
    "METHODS": "methods",
    "METHOD_TABLE": "methods",
    "Method": "methods",
    "TABLEAUS": "tableaus",
    "ButcherTableau": "tableaus",
    "ODEBlock": "block",
    "ODESolverError": "errors",
    "SolverStats": "stats",
    "odeint": "solve",
    "odeint_event": "events",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f"pyode.solver.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'pyode.solver' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
